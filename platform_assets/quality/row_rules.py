"""Row rules: validations decided by each row alone, as one polars expression that is true where
the row FAILS. Every row rule of a table is evaluated in a single pass over the partition.

Nulls pass every rule except not_null (nullability is a separate, explicit rule), as in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from platform_assets.quality.healthcare import DESCRIPTIONS, LIBRARY
from resources.lake import PARTITION_COLUMN
from platform_assets.spec import (
    AcceptedValues,
    CodeFormat,
    DateOrder,
    Expression,
    Length,
    NotNull,
    Range,
    Regex,
)

ROW_RULES = (NotNull, AcceptedValues, Regex, Range, Length, Expression, CodeFormat, DateOrder)


@dataclass(frozen=True)
class RowRule:
    """A named failing-row predicate and the columns worth showing in a sample.

    The predicate is built on first use, not when definitions load: building polars
    expressions for every rule of thousands of feeds cost ~10% of the code location's load.
    """

    name: str
    description: str
    columns: list[str]
    validation: object = field(repr=False)

    @cached_property
    def failing(self) -> pl.Expr:
        return _failing(self.validation)


def _invalid(column: str, valid: pl.Expr) -> pl.Expr:
    return pl.col(column).is_not_null() & ~valid.fill_null(False)


def _literal(bound: float | dt.date) -> pl.Expr:
    return pl.lit(bound, pl.Date) if isinstance(bound, dt.date) else pl.lit(bound)


def row_rule(v: object) -> RowRule:
    """The RowRule for one of the ROW_RULES validations."""
    if isinstance(v, NotNull):
        return RowRule(f"not_null_{v.column}", f"{v.column} is never null", [v.column], v)
    if isinstance(v, AcceptedValues):
        return RowRule(f"accepted_values_{v.column}", f"{v.column} is one of {v.values}", [v.column], v)
    if isinstance(v, Regex):
        return RowRule(f"regex_{v.column}", f"{v.column} matches {v.pattern!r}", [v.column], v)
    if isinstance(v, Range):
        bounds = f"[{v.min if v.min is not None else '-inf'}, {v.max if v.max is not None else 'inf'}]"
        return RowRule(f"range_{v.column}", f"{v.column} is within {bounds}", [v.column], v)
    if isinstance(v, Length):
        return RowRule(f"length_{v.column}", f"{v.column} has {v.min or 0}..{v.max or 'any'} characters", [v.column], v)
    if isinstance(v, Expression):
        columns = list(dict.fromkeys(pl.sql_expr(v.sql).meta.root_names()))
        name = v.name or "expression_" + "_".join(columns[:3])
        return RowRule(name, f"{v.sql} holds for every row", columns, v)
    if isinstance(v, CodeFormat):
        return RowRule(f"{v.rule}_{v.column}", f"{v.column} {DESCRIPTIONS[v.rule]}", [v.column], v)
    if isinstance(v, DateOrder):
        return RowRule(f"date_order_{'_'.join(v.columns)}", f"{' <= '.join(v.columns)}", list(v.columns), v)
    raise TypeError(f"{type(v).__name__} is not a row rule")  # pragma: no cover


def _failing(v: object) -> pl.Expr:
    """The expression that is true where a row fails validation `v`."""
    if isinstance(v, NotNull):
        return pl.col(v.column).is_null()
    if isinstance(v, AcceptedValues):
        return _invalid(v.column, pl.col(v.column).cast(pl.String).is_in(v.values))
    if isinstance(v, Regex):
        # Anchored so that a pattern written for the whole value cannot match a substring.
        return _invalid(v.column, pl.col(v.column).cast(pl.String).str.contains(f"^(?:{v.pattern})$"))
    if isinstance(v, Range):
        col, valid = pl.col(v.column), pl.lit(True)
        if v.min is not None:
            valid &= col >= _literal(v.min)
        if v.max is not None:
            valid &= col <= _literal(v.max)
        return _invalid(v.column, valid)
    if isinstance(v, Length):
        n, valid = pl.col(v.column).cast(pl.String).str.len_chars(), pl.lit(True)
        if v.min is not None:
            valid &= n >= v.min
        if v.max is not None:
            valid &= n <= v.max
        return _invalid(v.column, valid)
    if isinstance(v, Expression):
        return ~pl.sql_expr(v.sql).fill_null(True)
    if isinstance(v, CodeFormat):
        return _invalid(v.column, LIBRARY[v.rule](pl.col(v.column)))
    if isinstance(v, DateOrder):
        backwards = pl.lit(False)
        # Every ordered pair, so a null in the middle does not hide birth > paid.
        for i, earlier in enumerate(v.columns):
            for later in v.columns[i + 1 :]:
                backwards |= (pl.col(earlier).cast(pl.Date) > pl.col(later).cast(pl.Date)).fill_null(False)
        return backwards
    raise TypeError(f"{type(v).__name__} is not a row rule")  # pragma: no cover


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
