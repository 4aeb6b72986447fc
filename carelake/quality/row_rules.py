"""Row rules: validations decided by each row alone, as one polars expression that is true where
the row FAILS. Every row rule of a table is evaluated in a single pass over the partition.

Nulls pass every rule except not_null (nullability is a separate, explicit rule), as in SQL.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from carelake.names import PARTITION_COLUMN
from carelake.quality.healthcare import DESCRIPTIONS, LIBRARY
from carelake.quality.registry import RowRule, rule
from carelake.spec import (
    AcceptedValues,
    CodeFormat,
    DateOrder,
    Expression,
    Length,
    NotNull,
    Range,
    Regex,
    SourceSpec,
)


def _invalid(column: str, valid: pl.Expr) -> pl.Expr:
    return pl.col(column).is_not_null() & ~valid.fill_null(False)


def _literal(bound: float | dt.date) -> pl.Expr:
    return pl.lit(bound, pl.Date) if isinstance(bound, dt.date) else pl.lit(bound)


def _within(value: pl.Expr, low: object, high: object) -> pl.Expr:
    valid = pl.lit(True)
    if low is not None:
        valid &= value >= low
    if high is not None:
        valid &= value <= high
    return valid


@rule(NotNull)
def not_null(v: NotNull, spec: SourceSpec | None = None) -> RowRule:
    return RowRule(f"not_null_{v.column}", f"{v.column} is never null", [v.column], lambda: pl.col(v.column).is_null())


@rule(AcceptedValues)
def accepted_values(v: AcceptedValues, spec: SourceSpec | None = None) -> RowRule:
    return RowRule(
        f"accepted_values_{v.column}", f"{v.column} is one of {v.values}", [v.column],
        lambda: _invalid(v.column, pl.col(v.column).cast(pl.String).is_in(v.values)),
    )


@rule(Regex)
def regex(v: Regex, spec: SourceSpec | None = None) -> RowRule:
    # Anchored so that a pattern written for the whole value cannot match a substring.
    return RowRule(
        f"regex_{v.column}", f"{v.column} matches {v.pattern!r}", [v.column],
        lambda: _invalid(v.column, pl.col(v.column).cast(pl.String).str.contains(f"^(?:{v.pattern})$")),
    )


@rule(Range)
def range_(v: Range, spec: SourceSpec | None = None) -> RowRule:
    bounds = f"[{v.min if v.min is not None else '-inf'}, {v.max if v.max is not None else 'inf'}]"
    return RowRule(
        f"range_{v.column}", f"{v.column} is within {bounds}", [v.column],
        lambda: _invalid(v.column, _within(pl.col(v.column), *(None if b is None else _literal(b) for b in (v.min, v.max)))),
    )


@rule(Length)
def length(v: Length, spec: SourceSpec | None = None) -> RowRule:
    return RowRule(
        f"length_{v.column}", f"{v.column} has {v.min or 0}..{v.max or 'any'} characters", [v.column],
        lambda: _invalid(v.column, _within(pl.col(v.column).cast(pl.String).str.len_chars(), v.min, v.max)),
    )


@rule(Expression)
def expression(v: Expression, spec: SourceSpec | None = None) -> RowRule:
    columns = list(dict.fromkeys(pl.sql_expr(v.sql).meta.root_names()))
    name = v.name or "expression_" + "_".join(columns[:3])
    return RowRule(name, f"{v.sql} holds for every row", columns, lambda: ~pl.sql_expr(v.sql).fill_null(True))


@rule(CodeFormat)
def code_format(v: CodeFormat, spec: SourceSpec | None = None) -> RowRule:
    return RowRule(
        f"{v.rule}_{v.column}", f"{v.column} {DESCRIPTIONS[v.rule]}", [v.column],
        lambda: _invalid(v.column, LIBRARY[v.rule](pl.col(v.column))),
    )


@rule(DateOrder)
def date_order(v: DateOrder, spec: SourceSpec | None = None) -> RowRule:
    def backwards() -> pl.Expr:
        out = pl.lit(False)
        # Every ordered pair, so a null in the middle does not hide birth > paid.
        for i, earlier in enumerate(v.columns):
            for later in v.columns[i + 1 :]:
                out |= (pl.col(earlier).cast(pl.Date) > pl.col(later).cast(pl.Date)).fill_null(False)
        return out

    return RowRule(f"date_order_{'_'.join(v.columns)}", f"{' <= '.join(v.columns)}", list(v.columns), backwards)


def evaluate_row_rules(frame: pl.LazyFrame, rules: list[RowRule]) -> dict[str, tuple[int, list[int]]]:
    """Partition key -> (rows, failing rows per rule), in one pass over `frame`.

    Grouping by partition costs nothing measurable (one key per file) and keeps a range run's
    counts attributable to each partition.
    """
    counts = (
        frame.group_by(PARTITION_COLUMN)
        .agg(pl.len().alias("__rows"), *[r.failing.sum().alias(f"__r{i}") for i, r in enumerate(rules)])
        .collect()
    )
    return {row[0]: (int(row[1]), [int(x or 0) for x in row[2:]]) for row in counts.iter_rows()}
