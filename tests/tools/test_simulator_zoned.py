"""The simulator writes zoned timestamps (issue 15, Types): datetimes with their offset by default, local
times in the column's zone for a format without one (never a time a DST change skips or repeats), and
decimals / blank flags its readers accept; simulate -> landed -> raw through Dagster quarantines nothing."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carelake.tools.simulation import Simulator
from platform_assets.feeds import asset_key
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.runs import failure_message, feed_def, layer_counts, materialize
from tests.support.specs import feed_spec, write_spec

DST_END = dt.date(2026, 11, 1)  # US clocks go back at 02:00: 01:00-02:00 happens twice

COLUMNS = """
timezone: America/New_York
columns:
  - {name: ID, nullable: false, semantic: claim_id}
  - {name: LINE, type: integer, nullable: false, semantic: line_number}
  - {name: SEEN_AT, type: datetime, nullable: false}
  - {name: LOCAL_AT, type: datetime, nullable: false, input_format: "%Y-%m-%d %H:%M:%S"}
  - {name: PARIS_AT, type: datetime, nullable: false, input_format: "%Y%m%d%H%M%S%z", timezone: Europe/Paris}
  - {name: AMT, type: decimal, precision: 9, scale: 2, rounding: half_even}
primary_key: [ID, LINE]
"""
FIXED = """
  kind: fixed_width
  fields:
    - {name: ID, length: 20}
    - {name: LINE, length: 2}
    - {name: SEEN_AT, length: 24}
    - {name: LOCAL_AT, length: 19}
    - {name: PARIS_AT, length: 19}
    - {name: AMT, length: 10}
"""
FORMATS = {"csv": ("Z_{date:%Y%m%d}.csv", "{kind: csv}"), "fixed_width": ("Z_{date:%Y%m%d}.txt", FIXED),
           "parquet": ("Z_{date:%Y%m%d}.parquet", "{kind: parquet}")}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_simulated_zoned_timestamps_round_trip_over_a_dst_change(settings, instance, kind):
    pattern, fmt = FORMATS[kind]
    fmt = fmt if fmt.startswith("{") else fmt.rstrip()
    write_spec(settings, "zoneco", kind, (
        "description: simulated zoned timestamps\nowners: [team:simulation]\ncadence: daily\nstart_date: 2026-01-01\n"
        f"delivery: {{channel: {{kind: local, path: zoneco}}, file_pattern: '{pattern}'}}\nformat: {fmt}\n"
    ) + COLUMNS.lstrip())
    spec = feed_spec(settings, f"zoneco/{kind}")
    report = Simulator(settings.landing_root, seed=5, rows_per_delivery=400).simulate(spec, DST_END, DST_END + dt.timedelta(days=1))
    assert [d.rows for d in report.deliveries] == [400]
    _, assets = feed_def(settings, spec.provider, spec.table)
    result = materialize(assets, instance, partition=DST_END.isoformat())
    assert result.success, failure_message(result)
    assert layer_counts(DeltaLake(root=settings.lake_root), spec) == (400, 0)
    raw = DeltaLake(root=settings.lake_root).read(asset_key("raw", spec), PartitionSelection.everything())
    assert {raw.schema[c] for c in ("SEEN_AT", "LOCAL_AT", "PARIS_AT")} == {pl.Datetime("us", "UTC")}
    local = raw.select(pl.col("LOCAL_AT").dt.convert_time_zone("America/New_York").dt.date().unique()).to_series().to_list()
    assert local == [DST_END], "local times of the window's day, in the column's zone"
