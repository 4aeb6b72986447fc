"""The PHI canary: every PHI value the demo delivered (names, member ids, birth dates, ...) is in raw,
and in none of: the transformed tables and their Delta logs, the Dagster instance's storage (run and
event DBs, compute logs), the materialization and check metadata, or what the demo printed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from carelake.names import RAW, table_key
from carelake.spec.loading import load_specs
from carelake.tools.cli import main
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.environment import REPO_SOURCES

MIN_LENGTH = 6  # shorter values (a state, a 3-digit ZIP) could appear by chance in binary data


def delivered_phi(lake: DeltaLake) -> set[str]:
    values = set()
    for loaded in load_specs(REPO_SOURCES):
        spec = loaded.spec
        key = table_key(RAW, spec)
        if not lake.exists(key):
            continue
        raw = lake.read(key, PartitionSelection.everything())
        for column in spec.columns:
            if not column.phi or spec.masking_of(column).value == "none":
                continue
            if raw[column.name].dtype == pl.Date:
                # Service dates are the days of their daily windows, which partition keys and file names
                # carry anyway; birth dates are the individual's own.
                if column.phi.category.value == "birth_date":
                    days = raw[column.name].drop_nulls().unique().to_list()
                    values |= {d.isoformat() for d in days} | {d.strftime("%Y%m%d") for d in days}
                continue
            text = raw[column.name].cast(pl.String).drop_nulls()
            values |= {v for v in text.unique().to_list() if len(v) >= MIN_LENGTH}
    return values


def files_holding(folder: Path, values: set[str]) -> dict[str, list[str]]:
    """The files under `folder` (or `folder` itself, a file) holding any of `values`, with the first few found."""
    found = {}
    needles = [(v, v.encode()) for v in values]
    assert folder.exists(), folder
    for path in ([folder] if folder.is_file() else folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits = [v for v, b in needles if b in data]
            if hits:
                found[str(path)] = hits[:3]
    return found


def test_no_delivered_phi_value_leaves_raw(demo_home, capsys):
    home = demo_home
    assert main(["demo", "--month", "2026-10-01", "--fault-rate", "0.05"]) == 0
    printed = capsys.readouterr()

    lake = DeltaLake(root=str(home / "lake"))
    phi = delivered_phi(lake)
    assert len(phi) > 500, "the canary needs the demo's PHI values"
    assert files_holding(home / "lake" / "transformed", phi) == {}
    assert files_holding(home / "dagster_home", phi) == {}
    # The alerts the demo sends (the local sink) and the alert outbox.
    sink = home / "alerts" / "sent.jsonl"
    assert sink.read_text().count("\n") >= 2 and "missing delivery" in sink.read_text()
    assert files_holding(home / "alerts", phi) == {} and files_holding(home / "alerts.db", phi) == {}
    assert not [v for v in phi if v in printed.out or v in printed.err]
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        for key in instance.get_asset_keys():
            for record in instance.fetch_materializations(key, limit=10_000).records:
                text = repr(record.event_log_entry)
                assert not [v for v in phi if v in text]
    assert files_holding(home / "lake" / "raw", phi), "raw, the PHI zone, holds them (the canary would see a leak)"
