"""Datetime columns changed type (issue 15, Types): raw tables written before zoned timestamps hold naive
datetimes (Delta timestamp_ntz), new writes UTC instants (Delta timestamp). A run that rewrites only some
partitions of such a table is refused with the change and the fix; a run over every partition rewrites
the table with the new type. The two never mix in one table."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carelake.layers.raw import ingest
from resources.lake import DeltaLake, SchemaChangeRefused
from resources.selection import PartitionSelection
from tests.support.specs import spec_of

RAW, QUARANTINE = ["raw", "testco", "feed"], ["quarantine", "testco", "feed"]
SPEC = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: AT, type: datetime}\n")


def old_lake(tmp_path) -> DeltaLake:
    """A lake whose raw table was written with naive datetimes, for 2025-03-01."""
    lake = DeltaLake(root=str(tmp_path / "lake"))
    old = pl.DataFrame({
        "_line": [2], "_partition": ["2025-03-01"], "_file": ["feed_20250301.csv"], "ID": ["1"],
        "AT": [dt.datetime(2025, 3, 1, 8)],
    }, schema={"_line": pl.Int64, "_partition": pl.String, "_file": pl.String, "ID": pl.String, "AT": pl.Datetime("us")})
    lake.replace(RAW, old, PartitionSelection.of_keys(["2025-03-01"]))
    return lake


def delivered(tmp_path, day: str) -> tuple[str, str, object]:
    path = tmp_path / "landed" / f"feed_{day.replace('-', '')}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"ID,AT\n1,{day}T08:00:00Z\n")
    return day, path.name, path


def test_a_partial_rewrite_of_a_table_with_naive_datetimes_is_refused_with_the_fix(tmp_path):
    lake = old_lake(tmp_path)
    with pytest.raises(SchemaChangeRefused) as refused:
        ingest(SPEC, [delivered(tmp_path, "2025-03-02")], PartitionSelection.of_keys(["2025-03-02"]), lake, RAW, QUARANTINE)
    message = str(refused.value)
    assert "retyped AT (timestamp_ntz -> timestamp)" in message and "re-materialize every partition" in message
    table = lake.read(RAW, PartitionSelection.everything())
    assert table.schema["AT"] == pl.Datetime("us") and table.height == 1, "the table is unchanged"


def test_rewriting_every_partition_migrates_the_table_to_utc(tmp_path):
    lake = old_lake(tmp_path)
    days = ["2025-03-01", "2025-03-02"]
    ingest(SPEC, [delivered(tmp_path, d) for d in days], PartitionSelection.of_keys(days), lake, RAW, QUARANTINE)
    table = lake.read(RAW, PartitionSelection.everything()).sort("_partition")
    assert table.schema["AT"] == pl.Datetime("us", "UTC")
    assert table["AT"].to_list() == [dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC), dt.datetime(2025, 3, 2, 8, tzinfo=dt.UTC)]
