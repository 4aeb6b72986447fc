"""The Delta storage layer returns exactly the right rows for every kind of edge (the stock
DeltaLakePolarsIOManager does not: see docs/DAGSTER_NOTES.md)."""


import dagster as dg
import polars as pl
import pytest

from resources.io_manager import DeltaIOManager
from resources.lake import DeltaLake
from resources.selection import PartitionSelection

daily = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=0)
monthly = dg.MonthlyPartitionsDefinition(start_date="2025-01-01")
deliveries = dg.DynamicPartitionsDefinition(name="drops")


def day_rows(day: str) -> pl.DataFrame:
    """Two rows per day, tagged with the day, so any wrong selection shows up in the counts."""
    return pl.DataFrame({"day": [day, day], "n": [1, 2]})


@dg.asset(partitions_def=daily, backfill_policy=dg.BackfillPolicy.single_run())
def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
    frames = [day_rows(k).with_columns(pl.lit(k).alias("_partition")) for k in context.partition_keys]
    return pl.concat(frames)


@dg.asset(partitions_def=daily)
def events_same_cadence(events: pl.DataFrame) -> pl.DataFrame:
    return events.select("day", "n")


@dg.asset(partitions_def=monthly)
def events_monthly(events: pl.DataFrame) -> pl.DataFrame:
    return events.group_by("day").agg(pl.col("n").sum()).sort("day")


@dg.asset
def events_everything(events: pl.DataFrame) -> pl.DataFrame:
    return events.select("day", "n")


@dg.asset_check(asset=events, partitions_def=daily)
def two_rows_per_day(context: dg.AssetCheckExecutionContext, events: pl.DataFrame) -> dg.AssetCheckResult:
    counts = events.group_by("day").len()
    return dg.AssetCheckResult(passed=bool((counts["len"] == 2).all()), metadata={"rows": events.height, "days": counts.height})


@dg.asset_check(asset=events)
def unpartitioned_check_sees_the_run_partitions(events: pl.DataFrame) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"rows": events.height})


@dg.asset(partitions_def=deliveries)
def drops(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return pl.DataFrame({"drop": [context.partition_key] * 3})


@dg.asset
def all_drops(drops: pl.DataFrame) -> pl.DataFrame:
    return drops


ASSETS = [events, events_same_cadence, events_monthly, events_everything, drops, all_drops]


@pytest.fixture
def io(tmp_path):
    return {"io_manager": DeltaIOManager(root=str(tmp_path / "lake"))}


def run(io, instance, selection, **kwargs):
    result = dg.materialize(ASSETS + [two_rows_per_day, unpartitioned_check_sees_the_run_partitions], resources=io, instance=instance, selection=selection, **kwargs)
    assert result.success
    return result


def lake_of(io) -> DeltaLake:
    return DeltaLake(root=io["io_manager"].root)


def backfill_january(io, instance):
    run(io, instance, [events], tags={"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-01-31"})


def test_a_range_run_writes_every_partition_of_the_range(io, instance):
    backfill_january(io, instance)
    stored = lake_of(io).read(["events"], PartitionSelection.everything())
    assert stored.height == 62 and stored["_partition"].n_unique() == 31


def test_same_cadence_reads_exactly_its_partition(io, instance):
    backfill_january(io, instance)
    run(io, instance, [events_same_cadence], partition_key="2025-01-17")
    out = lake_of(io).read(["events_same_cadence"], PartitionSelection.everything())
    assert out["day"].to_list() == ["2025-01-17", "2025-01-17"]


def test_a_monthly_asset_reads_every_day_of_its_month(io, instance):
    backfill_january(io, instance)
    run(io, instance, [events], partition_key="2025-02-01")  # a day outside the month must not leak in
    run(io, instance, [events_monthly], partition_key="2025-01-01")
    out = lake_of(io).read(["events_monthly"], PartitionSelection.everything())
    assert out.height == 31 and out["n"].to_list() == [3] * 31 and out["day"].max() == "2025-01-31"


def test_an_unpartitioned_asset_reads_every_partition(io, instance):
    backfill_january(io, instance)
    run(io, instance, [events], partition_key="2025-02-01")
    run(io, instance, [events_everything])
    out = lake_of(io).read(["events_everything"], PartitionSelection.everything())
    assert out.height == 64


def test_an_unpartitioned_asset_reads_every_dynamic_partition(io, instance):
    instance.add_dynamic_partitions("drops", ["history", "2025-03-increment"])
    run(io, instance, [drops], partition_key="history")
    run(io, instance, [drops], partition_key="2025-03-increment")
    run(io, instance, [all_drops])
    out = lake_of(io).read(["all_drops"], PartitionSelection.everything())
    assert sorted(set(out["drop"])) == ["2025-03-increment", "history"] and out.height == 6


def test_a_check_on_a_partitioned_asset_sees_exactly_that_partition(io, instance):
    backfill_january(io, instance)
    result = run(io, instance, [events, two_rows_per_day], partition_key="2025-01-09")
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "two_rows_per_day"]
    assert evaluation.passed and evaluation.metadata["rows"].value == 2 and evaluation.metadata["days"].value == 1


def test_an_unpartitioned_check_on_a_partitioned_asset_sees_the_run_partitions(io, instance):
    backfill_january(io, instance)
    result = run(io, instance, [events, unpartitioned_check_sees_the_run_partitions], partition_key="2025-01-09")
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "unpartitioned_check_sees_the_run_partitions"]
    assert evaluation.metadata["rows"].value == 2


def test_rewriting_a_partition_replaces_only_that_partition(io, instance):
    backfill_january(io, instance)
    run(io, instance, [events], partition_key="2025-01-09")
    stored = lake_of(io).read(["events"], PartitionSelection.everything())
    assert stored.height == 62


def test_writing_rows_outside_the_selected_partitions_is_refused_without_showing_them(tmp_path):
    lake = DeltaLake(root=str(tmp_path / "lake"))
    frame = pl.DataFrame({"_partition": ["2025-01-02"], "ssn": ["123-45-6789"]})
    with pytest.raises(ValueError, match="1 rows have a _partition outside partitions") as err:
        lake.replace(["t"], frame, PartitionSelection.key_range("2025-01-01", "2025-01-02"))
    assert "123-45-6789" not in str(err.value)


def test_reading_a_table_never_written_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Delta table yet; materialize it"):
        DeltaLake(root=str(tmp_path / "lake")).read(["nothing"], PartitionSelection.everything())
