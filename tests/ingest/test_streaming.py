"""Streamed partition overwrites: atomic, partition-exact, and leaving no files behind on failure."""

from __future__ import annotations

import polars as pl
import pytest

from carelake.layers.raw import ingest
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.specs import spec_of

KEY = ["raw", "testco", "stream"]


def batches(partition: str, start: int, n: int, fail_after: int | None = None):
    for i in range(start, start + n):
        if fail_after is not None and i - start == fail_after:
            raise RuntimeError("the source broke mid-stream")
        yield pl.DataFrame({"_partition": [partition] * 3, "v": [i * 10 + k for k in range(3)]}).to_arrow().to_batches()[0]


def schema():
    return pl.DataFrame(schema={"_partition": pl.String, "v": pl.Int64}).to_arrow().schema


def rows(lake: DeltaLake) -> dict[str, int]:
    frame = lake.read(KEY, PartitionSelection.everything())
    return dict(frame.group_by("_partition").len().sort("_partition").rows())


def parquet_files(tmp_path) -> set:
    return {p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet")}


def test_a_streamed_overwrite_replaces_only_the_selected_partition(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    for day in ("2025-03-01", "2025-03-02"):
        assert lake.replace_stream(KEY, schema(), batches(day, 0, 4), PartitionSelection.of_keys([day])) == 12
    lake.replace_stream(KEY, schema(), batches("2025-03-02", 0, 1), PartitionSelection.key_range("2025-03-02", "2025-03-03"))
    assert rows(lake) == {"2025-03-01": 12, "2025-03-02": 3}


def test_a_source_failing_mid_stream_commits_nothing_and_leaves_no_files(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    lake.replace_stream(KEY, schema(), batches("2025-03-01", 0, 2), PartitionSelection.of_keys(["2025-03-01"]))
    before = parquet_files(tmp_path)
    with pytest.raises(RuntimeError, match="the source broke mid-stream"):
        lake.replace_stream(KEY, schema(), batches("2025-03-01", 0, 5, fail_after=3), PartitionSelection.of_keys(["2025-03-01"]))
    assert rows(lake) == {"2025-03-01": 6}
    assert parquet_files(tmp_path) == before


def test_rows_outside_the_selection_are_refused_without_showing_them(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    with pytest.raises(ValueError, match=r"3 rows have a _partition outside partitions \['2025-03-01'\]"):
        lake.replace_stream(KEY, schema(), batches("2025-03-02", 0, 1), PartitionSelection.of_keys(["2025-03-01"]))
    assert not lake.exists(KEY)


def test_ingest_into_a_lake_on_s3_replaces_the_partition_in_both_tables(tmp_path, s3_server):
    """A lake root on an S3-compatible server (SeaweedFS): files are staged locally, then committed remotely."""
    lake = DeltaLake(
        root=f"s3://{s3_server.new_bucket()}/lake",
        storage_options=s3_server.storage_options(),
    )
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID, nullable: false}\n  - {name: DAY, type: date, input_format: '%Y%m%d'}\n")
    landed = tmp_path / "feed_20250302.csv"
    selection = PartitionSelection.of_keys(["2025-03-02"])
    for content, expected_raw in (("ID,DAY\nA,20250301\nB,2025-03-01\nC,20250302\n", ["A", "C"]), ("ID,DAY\nD,20250301\n,20250301\n", ["D"])):
        landed.write_text(content)
        tally = ingest(spec, [("2025-03-02", landed.name, landed)], selection, lake, ["raw", "testco", "feed"], ["quarantine", "testco", "feed"])
        raw = lake.read(["raw", "testco", "feed"], selection).sort("_line")
        quarantine = lake.read(["quarantine", "testco", "feed"], selection)
        assert raw["ID"].to_list() == expected_raw
        assert tally.rows_raw == raw.height and tally.rows_quarantined == quarantine.height == 1
