"""Table rules: validations that need more than one row - aggregates per partition, other
partitions of the same table, or another feed's table. Each returns (passed, metadata) and reads
only what it needs from the lake, lazily.

Cross-feed rules (references, eligible) read the other feed's whole raw table: member rosters are
snapshots and eligibility spans carry their own dates, so every delivered key counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from carelake.names import PARTITION_COLUMN, QUARANTINE, RAW, table_key
from carelake.privacy.samples import sample_rows
from carelake.quality.registry import Evaluate, TableRule, rule
from carelake.spec import (
    AfterBirth,
    Cadence,
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
from carelake.spec.windows import keys_between, previous_key
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake

_ROW = "__row"


def _failing_result(rows: int, failing: int, sample: list[dict], **extra: object) -> tuple[bool, dict]:
    meta = {"rows_checked": rows, "failing_rows": failing, **extra}
    if sample:
        meta["failing_sample_masked"] = sample
    return failing == 0, meta


def _judge_rows(frame: pl.LazyFrame, failing: pl.Expr, spec: SourceSpec, columns: list[str]) -> tuple[bool, dict]:
    """Rows checked, rows where `failing` holds, and a masked sample of them, in one pass."""
    rows, bad = frame.select(pl.len().alias("__rows"), failing.sum().alias("__bad")).collect().row(0)
    sample = sample_rows(frame, failing, spec, columns) if bad else []
    return _failing_result(int(rows), int(bad or 0), sample)


def _against(feed: str, judge: Callable[[DeltaLake, PartitionSelection, pl.LazyFrame], tuple[bool, dict]]) -> Evaluate:
    """A cross-feed rule's evaluation: `judge` gets the other feed's whole raw table, which must exist."""
    other = table_key(RAW, feed)

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        if not lake.exists(other):
            return False, {"error": f"{feed} has no raw table yet; materialize it first"}
        return judge(lake, sel, lake.scan(other, PartitionSelection.everything()))

    return evaluate


def _keys_in(spec: SourceSpec, selection: PartitionSelection) -> list[str]:
    """The partition keys a selection covers (so that an empty partition is still seen)."""
    if selection.keys is not None:
        return list(selection.keys)
    return keys_between(spec, selection.start, selection.end)


@rule(Unique, UniqueAcrossPartitions)
def unique(v: Unique | UniqueAcrossPartitions, spec: SourceSpec) -> TableRule:
    """Duplicate keys within each partition (unique) or against every other partition (across)."""
    raw = table_key(RAW, spec)

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

    if isinstance(v, Unique):
        return TableRule(f"unique_{_columns(v)}", f"{v.columns} are unique within a partition", evaluate)
    return TableRule(f"unique_across_partitions_{_columns(v)}", f"{v.columns} of a partition appear in no other partition", evaluate)


@rule(RowCount)
def row_count(v: RowCount, spec: SourceSpec) -> TableRule:
    """Each selected partition's row count within [min, max]."""
    raw = table_key(RAW, spec)

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        counts = lake.counts_by_partition(raw, sel)
        per_key = {k: counts.get(k, 0) for k in _keys_in(spec, sel)}
        bad = {k: n for k, n in per_key.items() if (v.min is not None and n < v.min) or (v.max is not None and n > v.max)}
        return not bad, {"rows_per_partition": per_key, "partitions_out_of_bounds": len(bad)}

    return TableRule("row_count", f"each partition has {v.min or 0}..{v.max or 'any'} rows", evaluate)


@rule(RowCountChange)
def row_count_change(v: RowCountChange, spec: SourceSpec) -> TableRule:
    """Each selected partition's row count against the partition before it (skipped for the first)."""
    raw = table_key(RAW, spec)

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        keys = _keys_in(spec, sel)
        if spec.cadence is Cadence.adhoc or not keys:
            return True, {"skipped": "row_count_change needs time partitions"}
        prev_key = previous_key(spec, keys[0])
        wanted = ([prev_key] if prev_key else []) + keys
        counts = lake.counts_by_partition(raw, PartitionSelection.of_keys(wanted))
        changes, bad = {}, []
        for before, after in zip(wanted, wanted[1:], strict=False):
            if before not in counts:  # never materialized (or emptied): nothing to compare with
                continue
            base, now = counts[before], counts.get(after, 0)
            change = (now - base) / base if base else (0.0 if now == 0 else float("inf"))
            changes[after] = {"previous_rows": base, "rows": now, "change": round(change, 4)}
            if (v.max_drop is not None and change < -v.max_drop) or (v.max_growth is not None and change > v.max_growth):
                bad.append(after)
        return not bad, {"changes": changes, "partitions_out_of_bounds": len(bad)}

    description = f"row count changes by at most -{v.max_drop} / +{v.max_growth} against the previous partition"
    return TableRule("row_count_change", description, evaluate)


@rule(References)
def references(v: References, spec: SourceSpec) -> TableRule:
    """Every non-null value exists in the other feed's raw table."""
    raw = table_key(RAW, spec)

    def judge(lake: DeltaLake, sel: PartitionSelection, other: pl.LazyFrame) -> tuple[bool, dict]:
        # Keys compared as strings, so an integer id in one feed matches the same id as text in the other.
        keys = other.select(pl.col(v.to_column).cast(pl.String).alias("__key")).unique()
        frame = lake.scan(raw, sel).with_columns(pl.col(v.column).cast(pl.String).alias("__key"))
        missing = frame.join(keys.with_columns(pl.lit(True).alias("__found")), on="__key", how="left")
        failing = pl.col(v.column).is_not_null() & pl.col("__found").is_null()
        return _judge_rows(missing, failing, spec, [v.column])

    return TableRule(f"references_{v.column}", f"{v.column} exists in {v.to}.{v.to_column}", _against(v.to, judge))


@rule(Eligible)
def eligible(v: Eligible, spec: SourceSpec) -> TableRule:
    """Every row's member has a span [start, end] (end null = open) in the other feed covering the date."""
    raw = table_key(RAW, spec)

    def judge(lake: DeltaLake, sel: PartitionSelection, other: pl.LazyFrame) -> tuple[bool, dict]:
        end = pl.col(v.end_column) if v.end_column else pl.lit(None, pl.Date)
        spans = other.select(
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

    description = f"{v.member_column} is eligible in {v.to} on {v.date_column}"
    return TableRule(f"eligible_{v.member_column}", description, _against(v.to, judge))


@rule(AfterBirth)
def after_birth(v: AfterBirth, spec: SourceSpec) -> TableRule:
    """No row's date is before its member's birth date in the other feed (unknown members pass)."""
    raw = table_key(RAW, spec)

    def judge(lake: DeltaLake, sel: PartitionSelection, other: pl.LazyFrame) -> tuple[bool, dict]:
        # The latest-known birth date per member: rosters repeat it in every snapshot.
        births = (
            other
            .group_by(pl.col(v.to_member_column).cast(pl.String).alias("__member"))
            .agg(pl.col(v.birth_column).cast(pl.Date).max().alias("__birth"))
        )
        frame = lake.scan(raw, sel).with_columns(pl.col(v.member_column).cast(pl.String).alias("__member"))
        checked = frame.join(births, on="__member", how="left")
        failing = (pl.col(v.date_column).cast(pl.Date) < pl.col("__birth")).fill_null(False)
        return _judge_rows(checked, failing, spec, [v.member_column, v.date_column])

    description = f"{v.date_column} is on or after the birth date ({v.to}.{v.birth_column}) of {v.member_column}"
    return TableRule(f"after_birth_{v.date_column}", description, _against(v.to, judge))


@rule(SumEquals)
def sum_equals(v: SumEquals, spec: SourceSpec) -> TableRule:
    """Per group, the sum of `column` equals `total_column` (which must be the same on every row)."""
    raw = table_key(RAW, spec)

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

    description = f"{v.column} summed per {v.group_by} equals {v.total_column}"
    return TableRule(f"sum_equals_{v.total_column}", description, evaluate)


@rule(QuarantineRate)
def quarantine_rate(v: QuarantineRate, spec: SourceSpec) -> TableRule:
    """Each selected partition sent at most `max` of its delivered rows to quarantine."""
    raw = table_key(RAW, spec)
    quarantine = table_key(QUARANTINE, spec)

    def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
        good, bad = lake.counts_by_partition(raw, sel), lake.counts_by_partition(quarantine, sel)
        rates = {}
        for key in _keys_in(spec, sel):
            delivered = good.get(key, 0) + bad.get(key, 0)
            rates[key] = round(bad.get(key, 0) / delivered, 6) if delivered else 0.0
        over = [k for k, r in rates.items() if r > v.max]
        return not over, {"quarantine_rate": rates, "partitions_over_threshold": len(over)}

    description = f"at most {v.max:.2%} of delivered rows are quarantined"
    return TableRule("quarantine_rate", description, evaluate)



def _columns(v: Unique | UniqueAcrossPartitions) -> str:
    return "_".join(v.columns)
