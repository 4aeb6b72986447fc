"""Typing a delivery: strings in, typed rows out, and every row that fails kept with its reasons.

Pure functions over polars LazyFrames (no I/O), shared by every reader.
"""

from __future__ import annotations

import polars as pl

from platform_assets.readers import LINE_COLUMN
from platform_assets.spec import Column, ColumnType, SourceSpec

ISO_DATE = "%Y-%m-%d"
ISO_DATETIME = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
QUARANTINE_COLUMNS = ["column", "rule", "reason", "value", "record"]


def polars_type(column: Column) -> pl.DataType:
    return {
        ColumnType.string: pl.String(),
        ColumnType.integer: pl.Int64(),
        ColumnType.decimal: pl.Decimal(column.precision, column.scale),
        ColumnType.float: pl.Float64(),
        ColumnType.boolean: pl.Boolean(),
        ColumnType.date: pl.Date(),
        ColumnType.datetime: pl.Datetime("us"),
    }[column.type]


def _typed(column: Column, raw: pl.Expr) -> pl.Expr:
    """The typed value, or null where the raw string is not a valid value of the column's type."""
    kind = column.type
    if kind is ColumnType.string:
        return raw
    if kind is ColumnType.integer:
        return pl.when(raw.str.contains(r"^[+-]?\d+$")).then(raw.cast(pl.Int64, strict=False))
    if kind is ColumnType.decimal:
        digits = column.precision - column.scale
        pattern = rf"^[+-]?\d{{1,{digits}}}(\.\d{{0,{column.scale}}})?$" if column.scale else rf"^[+-]?\d{{1,{digits}}}$"
        return pl.when(raw.str.contains(pattern)).then(raw.cast(polars_type(column), strict=False))
    if kind is ColumnType.float:
        return raw.cast(pl.Float64, strict=False)
    if kind is ColumnType.boolean:
        return pl.when(raw.is_in(column.true_values)).then(True).when(raw.is_in(column.false_values)).then(False)
    formats = column.input_format or ([ISO_DATE] if kind is ColumnType.date else ISO_DATETIME)
    if kind is ColumnType.date:
        return pl.coalesce([raw.str.to_date(f, strict=False, exact=True) for f in formats])
    return pl.coalesce([raw.str.to_datetime(f, strict=False, exact=True, time_unit="us") for f in formats])


def _expected(column: Column) -> str:
    if column.type in (ColumnType.date, ColumnType.datetime):
        formats = column.input_format or ([ISO_DATE] if column.type is ColumnType.date else ISO_DATETIME)
        return f"a {column.type.value} in format {' or '.join(formats)}"
    if column.type is ColumnType.decimal:
        return f"a decimal with at most {column.precision - column.scale} integer and {column.scale} fraction digits"
    if column.type is ColumnType.boolean:
        return f"a boolean ({'/'.join(column.true_values[:2])} or {'/'.join(column.false_values[:2])})"
    return f"an {column.type.value}" if column.type is ColumnType.integer else f"a {column.type.value}"


def split_rows(spec: SourceSpec, strings: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(valid, rejected) from a frame of declared string columns plus `_line` and any `_`-columns.

    valid: declared columns with their declared types; rejected: the platform columns plus
    `column`/`rule`/`reason` of the first failure, all reasons, the raw `value` of the failing
    column and the whole raw `record` as JSON, so nothing delivered is lost.
    """
    platform_cols = [c for c in strings.collect_schema().names() if c.startswith("_")]
    trimmed = strings.with_columns(
        [pl.col(c.name).str.strip_chars().replace("", None).alias(c.name) for c in spec.columns]
    )
    failures: list[tuple[str, str, pl.Expr, str]] = []
    typed_exprs = []
    for column in spec.columns:
        raw = pl.col(column.name)
        typed = _typed(column, raw)
        typed_exprs.append(typed.alias(column.name))
        if not column.nullable:
            failures.append((column.name, "not_null", raw.is_null(), f"{column.name}: a value is required"))
        if column.type is not ColumnType.string:
            failures.append(
                (column.name, "type", raw.is_not_null() & typed.is_null(), f"{column.name}: expected {_expected(column)}")
            )
    with_checks = trimmed.with_columns(
        pl.concat_str(
            [pl.when(cond).then(pl.lit(reason)) for _, _, cond, reason in failures], separator="; ", ignore_nulls=True
        ).alias("_reasons")
        if failures
        else pl.lit(None, pl.String).alias("_reasons")
    ).with_columns(pl.col("_reasons").replace("", None))
    bad = pl.col("_reasons").is_not_null()
    valid = with_checks.filter(~bad).select(*platform_cols, *typed_exprs)

    first = lambda pick: pl.coalesce([pl.when(cond).then(pick(name, rule)) for name, rule, cond, _ in failures])  # noqa: E731
    rejected = with_checks.filter(bad).select(
        *platform_cols,
        first(lambda name, rule: pl.lit(name)).alias("column"),
        first(lambda name, rule: pl.lit(rule)).alias("rule"),
        pl.col("_reasons").alias("reason"),
        first(lambda name, rule: pl.col(name)).alias("value"),
        pl.struct([pl.col(c.name) for c in spec.columns]).struct.json_encode().alias("record"),
    ) if failures else with_checks.filter(pl.lit(False)).select(
        *platform_cols, *[pl.lit(None, pl.String).alias(c) for c in QUARANTINE_COLUMNS]
    )
    return valid, rejected


def to_transformed(spec: SourceSpec, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Rename to the common model and keep the last delivered row per primary key in each partition."""
    names = spec.transformed_names
    frame = raw.sort("_partition", "_file", LINE_COLUMN).rename(names)
    if spec.primary_key:
        keys = ["_partition", *[names[k] for k in spec.primary_key]]
        frame = frame.unique(subset=keys, keep="last", maintain_order=True)
    return frame
