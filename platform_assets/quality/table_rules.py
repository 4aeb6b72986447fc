"""Table rules: validations that need more than one row - aggregates per partition, other
partitions of the same table, or another feed's table. Each returns (passed, metadata) and reads
only what it needs from the lake, lazily.

Cross-feed rules (references, eligible) read the other feed's whole raw table: member rosters are
snapshots and eligibility spans carry their own dates, so every delivered key counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg
import polars as pl

from platform_assets.quality.samples import sample_rows
from platform_assets.spec import (
    AfterBirth,
    Eligible,
    QuarantineRate,
    References,
    RowCount,
    RowCountChange,
    SourceSpec,
    SumEquals,
    Unique,
    UniqueAcrossPartitions,
)
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection

Evaluate = Callable[[DeltaLake, PartitionSelection], tuple[bool, dict]]
_ROW = "__row"


def _feed_key(layer: str, feed: str) -> list[str]:
    return [layer, *feed.split("/")]


def _failing_result(rows: int, failing: int, sample: list[dict], **extra: object) -> tuple[bool, dict]:
    meta = {"rows_checked": rows, "failing_rows": failing, **extra}
    if sample:
        meta["failing_sample_masked"] = dg.MetadataValue.json(sample)
    return failing == 0, meta


def _judge_rows(frame: pl.LazyFrame, failing: pl.Expr, spec: SourceSpec, columns: list[str]) -> tuple[bool, dict]:
    """Rows checked, rows where `failing` holds, and a masked sample of them, in one pass."""
    rows, bad = frame.select(pl.len().alias("__rows"), failing.sum().alias("__bad")).collect().row(0)
    sample = sample_rows(frame, failing, spec, columns) if bad else []
    return _failing_result(int(rows), int(bad or 0), sample)


def _missing_other(lake: DeltaLake, other: list[str], feed: str) -> tuple[bool, dict] | None:
    """The failed result of a cross-feed rule whose other feed has no raw table yet."""
    return None if lake.exists(other) else (False, {"error": f"{feed} has no raw table yet; materialize it first"})


def _counts_per_partition(lake: DeltaLake, key: list[str], selection: PartitionSelection) -> dict[str, int]:
    if not lake.exists(key):
        return {}
    frame = lake.scan(key, selection).group_by(PARTITION_COLUMN).len().collect()
    return dict(frame.iter_rows())


def _keys_in(partitions_def: dg.PartitionsDefinition, selection: PartitionSelection) -> list[str]:
    """The partition keys a selection covers (so that an empty partition is still seen)."""
    if selection.keys is not None:
        return list(selection.keys)
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    start, end = (dt.datetime.fromisoformat(x).replace(tzinfo=dt.UTC) for x in (selection.start, selection.end))
    return partitions_def.get_partition_keys_in_time_window(dg.TimeWindow(start, end))


def unique(raw: list[str], spec: SourceSpec, v: Unique | UniqueAcrossPartitions) -> Evaluate:
    """Duplicate keys within each partition (unique) or against every other partition (across)."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        frame = lake.scan(raw, sel)
        keys = [PARTITION_COLUMN, *v.columns] if isinstance(v, Unique) else v.columns
        if isinstance(v, Unique):
            # group_by + len is several times faster than a window count over string keys.
            bad_keys = frame.group_by(keys).len().filter(pl.col("len") > 1)
        else:
            others = lake.scan(raw, PartitionSelection.everything()).filter(~sel.expr()).select(keys).unique()
            bad_keys = frame.select(keys).join(others, on=keys, how="semi").group_by(keys).len()
        groups, failing = bad_keys.select(pl.len().alias("__groups"), pl.col("len").sum().alias("__rows")).collect().row(0)
        failing = int(failing or 0)
        rows = frame.select(pl.len()).collect().item()
        sample = []
        if failing:
            flagged = frame.join(bad_keys.select(keys).with_columns(pl.lit(True).alias("__dup")), on=keys, how="left")
            sample = sample_rows(flagged, pl.col("__dup").fill_null(False), spec, v.columns)
        return _failing_result(rows, failing, sample, duplicate_rows=failing, duplicate_keys=int(groups))

    return evaluate


def row_count(raw: list[str], partitions_def: dg.PartitionsDefinition, v: RowCount) -> Evaluate:
    """Each selected partition's row count within [min, max]."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        counts = _counts_per_partition(lake, raw, sel)
        per_key = {k: counts.get(k, 0) for k in _keys_in(partitions_def, sel)}
        bad = {k: n for k, n in per_key.items() if (v.min is not None and n < v.min) or (v.max is not None and n > v.max)}
        return not bad, {"rows_per_partition": dg.MetadataValue.json(per_key), "partitions_out_of_bounds": len(bad)}

    return evaluate


def row_count_change(raw: list[str], partitions_def: dg.PartitionsDefinition, v: RowCountChange) -> Evaluate:
    """Each selected partition's row count against the partition before it (skipped for the first)."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        keys = _keys_in(partitions_def, sel)
        if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition) or not keys:
            return True, {"skipped": "row_count_change needs time partitions"}
        first = partitions_def.time_window_for_partition_key(keys[0])
        previous = partitions_def.get_prev_partition_window(first.start)
        prev_key = previous.start.strftime("%Y-%m-%d") if previous else None
        wanted = ([prev_key] if prev_key else []) + keys
        counts = _counts_per_partition(lake, raw, PartitionSelection.of_keys(wanted))
        changes, bad = {}, []
        for before, after in zip(wanted, wanted[1:], strict=False):
            if before not in counts:  # never materialized (or emptied): nothing to compare with
                continue
            base, now = counts[before], counts.get(after, 0)
            change = (now - base) / base if base else (0.0 if now == 0 else float("inf"))
            changes[after] = {"previous_rows": base, "rows": now, "change": round(change, 4)}
            if (v.max_drop is not None and change < -v.max_drop) or (v.max_growth is not None and change > v.max_growth):
                bad.append(after)
        return not bad, {"changes": dg.MetadataValue.json(changes), "partitions_out_of_bounds": len(bad)}

    return evaluate


def references(raw: list[str], spec: SourceSpec, v: References) -> Evaluate:
    """Every non-null value exists in the other feed's raw table."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        other = _feed_key("raw", v.to)
        if missing_other := _missing_other(lake, other, v.to):
            return missing_other
        # Keys compared as strings, so an integer id in one feed matches the same id as text in the other.
        keys = lake.scan(other, PartitionSelection.everything()).select(pl.col(v.to_column).cast(pl.String).alias("__key")).unique()
        frame = lake.scan(raw, sel).with_columns(pl.col(v.column).cast(pl.String).alias("__key"))
        missing = frame.join(keys.with_columns(pl.lit(True).alias("__found")), on="__key", how="left")
        failing = pl.col(v.column).is_not_null() & pl.col("__found").is_null()
        return _judge_rows(missing, failing, spec, [v.column])

    return evaluate


def eligible(raw: list[str], spec: SourceSpec, v: Eligible) -> Evaluate:
    """Every row's member has a span [start, end] (end null = open) in the other feed covering the date."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        other = _feed_key("raw", v.to)
        if missing_other := _missing_other(lake, other, v.to):
            return missing_other
        end = pl.col(v.end_column) if v.end_column else pl.lit(None, pl.Date)
        spans = lake.scan(other, PartitionSelection.everything()).select(
            pl.col(v.to_member_column).cast(pl.String).alias("__member"), pl.col(v.start_column).cast(pl.Date).alias("__start"),
            end.cast(pl.Date).alias("__end"),
        ).unique()
        frame = lake.scan(raw, sel).with_row_index(_ROW)
        date = pl.col(v.date_column).cast(pl.Date)
        covered = (
            frame.select(_ROW, pl.col(v.member_column).cast(pl.String).alias("__member"), date.alias("__date"))
            .join(spans, on="__member", how="inner")
            .filter((pl.col("__start") <= pl.col("__date")) & (pl.col("__end").is_null() | (pl.col("__date") <= pl.col("__end"))))
            .select(_ROW)
            .unique()
            .with_columns(pl.lit(True).alias("__covered"))
        )
        checked = frame.join(covered, on=_ROW, how="left")
        failing = pl.col(v.member_column).is_not_null() & date.is_not_null() & pl.col("__covered").is_null()
        return _judge_rows(checked, failing, spec, [v.member_column, v.date_column])

    return evaluate


def after_birth(raw: list[str], spec: SourceSpec, v: AfterBirth) -> Evaluate:
    """No row's date is before its member's birth date in the other feed (unknown members pass)."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        other = _feed_key("raw", v.to)
        if missing_other := _missing_other(lake, other, v.to):
            return missing_other
        # The latest-known birth date per member: rosters repeat it in every snapshot.
        births = (
            lake.scan(other, PartitionSelection.everything())
            .group_by(pl.col(v.to_member_column).cast(pl.String).alias("__member"))
            .agg(pl.col(v.birth_column).cast(pl.Date).max().alias("__birth"))
        )
        frame = lake.scan(raw, sel).with_columns(pl.col(v.member_column).cast(pl.String).alias("__member"))
        checked = frame.join(births, on="__member", how="left")
        failing = (pl.col(v.date_column).cast(pl.Date) < pl.col("__birth")).fill_null(False)
        return _judge_rows(checked, failing, spec, [v.member_column, v.date_column])

    return evaluate


def sum_equals(raw: list[str], spec: SourceSpec, v: SumEquals) -> Evaluate:
    """Per group, the sum of `column` equals `total_column` (which must be the same on every row)."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        frame = lake.scan(raw, sel)
        group = [PARTITION_COLUMN, *v.group_by]
        total = pl.col(v.total_column)
        # min != max instead of n_unique: the same answer (is the total constant?) at a fraction of the cost.
        bad_groups = (
            frame.group_by(group)
            .agg(pl.col(v.column).sum().cast(pl.Float64).alias("__sum"), total.min().cast(pl.Float64).alias("__lo"),
                 total.max().cast(pl.Float64).alias("__hi"), pl.len().alias("__rows"))
            .filter(((pl.col("__sum") - pl.col("__lo")).abs() > v.tolerance) | (pl.col("__lo") != pl.col("__hi")))
        )
        groups, bad = bad_groups.select(pl.len().alias("__groups"), pl.col("__rows").sum().alias("__bad")).collect().row(0)
        bad = int(bad or 0)
        rows = frame.select(pl.len()).collect().item()
        sample = []
        if bad:
            flagged = frame.join(bad_groups.select(group).with_columns(pl.lit(True).alias("__off")), on=group, how="left")
            sample = sample_rows(flagged, pl.col("__off").fill_null(False), spec, [*v.group_by, v.column, v.total_column])
        return _failing_result(rows, bad, sample, failing_groups=int(groups))

    return evaluate


def quarantine_rate(raw: list[str], quarantine: list[str], partitions_def: dg.PartitionsDefinition, v: QuarantineRate) -> Evaluate:
    """Each selected partition sent at most `max` of its delivered rows to quarantine."""

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        good, bad = _counts_per_partition(lake, raw, sel), _counts_per_partition(lake, quarantine, sel)
        rates = {}
        for key in _keys_in(partitions_def, sel):
            delivered = good.get(key, 0) + bad.get(key, 0)
            rates[key] = round(bad.get(key, 0) / delivered, 6) if delivered else 0.0
        over = [k for k, r in rates.items() if r > v.max]
        return not over, {"quarantine_rate": dg.MetadataValue.json(rates), "partitions_over_threshold": len(over)}

    return evaluate
