"""Delta file statistics of the streamed overwrite: the bounds delta-rs itself records, only for the
columns named (never raw's PHI columns), and readers that skip files by them still get every row."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import yaml
from deltalake import DeltaTable, write_deltalake

from carelake.layers.raw import ingest
from carelake.spec import SourceSpec
from resources.delta_stats import STATS_COLUMNS_PROPERTY
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import write_spec

DAY = "2026-01-01"


def every_type() -> pl.DataFrame:
    return pl.DataFrame({
        "_partition": [DAY] * 3,
        "i": [3, None, -7],
        "d": [dt.date(1899, 12, 31), dt.date(2026, 1, 1), None],
        "ts": pl.Series([dt.datetime(2020, 1, 1, 1, 2, 3, 456789), dt.datetime(2021, 5, 5), None]).dt.replace_time_zone("UTC"),
        "dec": pl.Series(["1.25", "-3.50", None]).cast(pl.Decimal(12, 2)),
        "s": ["b", "a", None],
        "long": ["x" * 100, "y", "z"],
        "f": [1.5, None, 2.0],
        "b": [True, False, None],
    })


def add_actions(uri: str) -> dict:
    return pl.DataFrame(DeltaTable(uri).get_add_actions(flatten=True)).row(0, named=True)


def staged_write(lake: DeltaLake, key: list[str], frame: pl.DataFrame, stats_columns: list[str]) -> None:
    with lake.overwrite(key, frame.to_arrow().schema, PartitionSelection.of_keys(sorted(set(frame["_partition"]))), stats_columns) as staged:
        pl.collect_all([staged.sink(frame.lazy())])
        staged.commit()


def test_bounds_equal_delta_rs_own_where_exact_and_are_left_out_where_not(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    frame = every_type()
    staged_write(lake, ["t"], frame, frame.columns)
    write_deltalake(str(tmp_path / "reference"), frame.to_arrow(), partition_by=["_partition"])
    ours, theirs = add_actions(lake.table_uri(["t"])), add_actions(str(tmp_path / "reference"))
    for column in ("i", "d", "ts", "dec", "s"):
        for stat in ("min", "max", "null_count"):
            assert ours[f"{stat}.{column}"] == theirs[f"{stat}.{column}"], (stat, column)
    assert ours["min.ts"] == dt.datetime(2020, 1, 1, 1, 2, 3, 456000, tzinfo=dt.UTC), "truncated down to milliseconds"
    # A string cut to a 64-byte prefix is no upper bound; floats and booleans carry none either.
    for column in ("long", "f", "b"):
        assert ours[f"min.{column}"] is None and ours[f"max.{column}"] is None
        assert ours[f"null_count.{column}"] == theirs[f"null_count.{column}"]


def test_readers_skipping_files_by_the_bounds_get_exactly_the_matching_rows(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    days = [f"2026-01-{d:02d}" for d in range(1, 5)]
    frame = pl.DataFrame({
        "_partition": [day for day in days for _ in range(250)],
        "n": list(range(1000)),
        "code": [f"C{i:04d}" for i in range(1000)],
        "at": pl.Series([dt.datetime(2026, 1, 1, 0, 0, 0, i * 999) for i in range(1000)]).dt.replace_time_zone("UTC"),
    })
    staged_write(lake, ["t"], frame, frame.columns)
    table = DeltaTable(lake.table_uri(["t"]))
    assert len(table.file_uris()) == 4
    read = pl.scan_delta(lake.table_uri(["t"]))
    # Each bound itself, just inside, just outside, and sub-millisecond timestamps at a file's edge.
    for predicate in (
        pl.col("n") == 249, pl.col("n") == 250, pl.col("n").is_between(249, 250), pl.col("n") > 998, pl.col("n") < 0,
        pl.col("code") == "C0500", pl.col("code") >= "C0999", pl.col("code") < "C0001",
        pl.col("at") == frame["at"][749], pl.col("at") >= frame["at"][999], pl.col("at") <= frame["at"][0],
    ):
        expected = frame.filter(predicate).sort("n")
        assert read.filter(predicate).collect().sort("n").equals(expected.select(read.collect_schema().names())), predicate


MEMBERS = """
description: Members.
owners: [team:claims-data]
cadence: daily
start_date: 2026-01-01
delivery: {channel: {kind: local, path: testco}, file_pattern: "members_{date:%Y%m%d}.csv"}
format: {kind: csv}
columns:
  - {name: MBR, nullable: false, phi: member_id}
  - {name: NAME, phi: name}
  - {name: PLAN}
  - {name: DOB, type: date, input_format: "%Y%m%d", phi: birth_date}
primary_key: [MBR]
"""
DELIVERY = "MBR,NAME,PLAN,DOB\nQX77,Zebulon Quartermaine,GOLD,19310415\nQX78,Ann,SILVER,1990XX01\n"
CLEAR = ("QX77", "QX78", "Zebulon", "Quartermaine", "19310415", "1931-04-15", "1990XX01")


def log_text(uri: str, storage_options: dict | None = None) -> str:
    table = DeltaTable(uri, storage_options=storage_options)
    return json.dumps([table.metadata().configuration, pl.DataFrame(table.get_add_actions(flatten=True)).to_dicts()], default=str)


def assert_phi_free_bounds(raw: dict, quarantine: dict) -> None:
    assert (raw["min.PLAN"], raw["max.PLAN"], raw["min._line"]) == ("GOLD", "GOLD", 2)
    assert not [c for c in ("MBR", "NAME", "DOB") if f"min.{c}" in raw or f"max.{c}" in raw]
    assert (quarantine["min.column"], quarantine["min.rule"], quarantine["min._line"]) == ("DOB", "type", 3)
    assert "min.record" not in quarantine and "min.value" not in quarantine


def test_raw_and_quarantine_logs_hold_bounds_of_every_column_but_the_phi_ones(settings, instance):
    write_spec(settings, "testco", "members", MEMBERS)
    deliver(settings, "testco", "members_20260102.csv", DELIVERY)
    result = materialize(feed_def(settings, "testco", "members")[1], instance, partition="2026-01-02")
    assert result.success, failure_message(result)
    uri = {layer: str(Path(settings.lake_root, layer, "testco", "members")) for layer in ("raw", "quarantine", "transformed")}
    assert_phi_free_bounds(add_actions(uri["raw"]), add_actions(uri["quarantine"]))
    for layer, table in uri.items():
        text = "".join(p.read_text() for p in Path(table, "_delta_log").glob("*.json"))
        assert not [v for v in CLEAR if v in text], layer
        assert STATS_COLUMNS_PROPERTY in DeltaTable(table).metadata().configuration, layer
    transformed = add_actions(uri["transformed"])
    # A token, and the birth year of someone 94 shown as 90 years before the window (age_90plus).
    assert len(transformed["min.MBR"]) == 32 and transformed["min.DOB"] == 1936 and transformed["min.NAME"] is None


def test_on_s3_delta_rs_writer_follows_the_same_stats_columns(tmp_path, s3_server):
    """A remote root commits through delta-rs' own writer, which honours the table property."""
    options = s3_server.storage_options()
    lake = DeltaLake(root=f"s3://{s3_server.new_bucket()}/lake", storage_options=options)
    spec = SourceSpec.model_validate(yaml.safe_load("provider: testco\ntable: members\n" + MEMBERS))
    landed = tmp_path / "members_20260102.csv"
    landed.write_text(DELIVERY)
    keys = {layer: [layer, "testco", "members"] for layer in ("raw", "quarantine")}
    ingest(spec, [("2026-01-02", landed.name, landed)], PartitionSelection.of_keys(["2026-01-02"]), lake, keys["raw"], keys["quarantine"])
    raw, quarantine = (lake.table_uri(keys[layer]) for layer in ("raw", "quarantine"))
    assert_phi_free_bounds(
        pl.DataFrame(DeltaTable(raw, storage_options=options).get_add_actions(flatten=True)).row(0, named=True),
        pl.DataFrame(DeltaTable(quarantine, storage_options=options).get_add_actions(flatten=True)).row(0, named=True),
    )
    assert not [v for v in CLEAR if v in log_text(raw, options) + log_text(quarantine, options)]


def test_the_stats_columns_property_follows_the_writer_when_phi_columns_change(tmp_path):
    lake = DeltaLake(root=str(tmp_path))
    frame = pl.DataFrame({"_partition": [DAY], "A": ["a"], "B": ["b"]})
    staged_write(lake, ["t"], frame, ["A", "B"])
    staged_write(lake, ["t"], frame, ["A"])  # B annotated as PHI since
    table = DeltaTable(lake.table_uri(["t"]))
    assert table.metadata().configuration[STATS_COLUMNS_PROPERTY] == "A"
    latest = add_actions(lake.table_uri(["t"]))
    assert latest["min.A"] == "a" and latest.get("min.B") is None
