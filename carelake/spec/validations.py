"""Quality rules a spec declares (`validations:`), each becoming a Dagster asset check."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from carelake.spec.columns import IDENTIFIER, ColumnType, StrictModel


class Severity(StrEnum):
    error = "error"
    warn = "warn"


class NotNull(StrictModel):
    rule: Literal["not_null"]
    column: str
    severity: Severity = Severity.error


class Unique(StrictModel):
    rule: Literal["unique"]
    columns: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


class AcceptedValues(StrictModel):
    rule: Literal["accepted_values"]
    column: str
    values: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


FEED_KEY = r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$"


class Regex(StrictModel):
    """Every non-null value matches `pattern` (a full match)."""

    rule: Literal["regex"]
    column: str
    pattern: str = Field(min_length=1)
    severity: Severity = Severity.error

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import polars as pl

        # Checked with the engine that runs it: polars' (Rust) regex syntax differs from Python's re.
        try:
            pl.select(pl.lit("").str.contains(value))
        except pl.exceptions.ComputeError as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression ({str(exc).splitlines()[0]})") from None
        return value


class Range(StrictModel):
    """Every non-null value lies in [min, max]; numbers or dates (YAML `2020-01-01` is a date)."""

    rule: Literal["range"]
    column: str
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    severity: Severity = Severity.error

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if self.min is not None and self.max is not None and type(self.min) is not type(self.max):
            raise ValueError("range min and max must both be numbers or both be dates")
        return self


class Length(StrictModel):
    """Every non-null value has between min and max characters."""

    rule: Literal["length"]
    column: str
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity = Severity.error


class Expression(StrictModel):
    """A SQL expression that must hold for every row (NULL passes, as in a SQL CHECK constraint)."""

    rule: Literal["expression"]
    sql: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=IDENTIFIER)
    severity: Severity = Severity.error

    @field_validator("sql")
    @classmethod
    def _parses(cls, value: str) -> str:
        import polars as pl

        try:
            pl.sql_expr(value)
        except Exception as exc:  # polars raises several error types for bad SQL
            raise ValueError(f"sql {value!r} is not a valid SQL expression ({str(exc).splitlines()[0]})") from None
        return value


class CodeFormat(StrictModel):
    """A healthcare / US code format from the rule library, checked on every non-null value."""

    rule: Literal["npi", "icd10_cm", "cpt", "hcpcs", "ndc", "us_state", "zip", "not_in_future"]
    column: str
    severity: Severity = Severity.error


class DateOrder(StrictModel):
    """Dates never go backwards along `columns`, e.g. [birth, service, paid] or [admission, discharge]."""

    rule: Literal["date_order"]
    columns: list[str] = Field(min_length=2)
    severity: Severity = Severity.error


class RowCount(StrictModel):
    """Each partition has between min and max rows."""

    rule: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity = Severity.error


class RowCountChange(StrictModel):
    """A partition's row count against the previous partition's: at most `max_drop` / `max_growth` (fractions)."""

    rule: Literal["row_count_change"]
    max_drop: float | None = Field(default=None, ge=0, le=1)
    max_growth: float | None = Field(default=None, ge=0)
    severity: Severity = Severity.warn


class UniqueAcrossPartitions(StrictModel):
    """No key of this partition appears in any other partition of the table."""

    rule: Literal["unique_across_partitions"]
    columns: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


class References(StrictModel):
    """Every non-null `column` value exists in `to_column` of another feed's raw table (`provider/table`)."""

    rule: Literal["references"]
    column: str
    to: str = Field(pattern=FEED_KEY)
    to_column: str
    severity: Severity = Severity.error


class Eligible(StrictModel):
    """The member has an eligibility span in another feed covering the date (open end = still eligible)."""

    rule: Literal["eligible"]
    member_column: str
    date_column: str
    to: str = Field(pattern=FEED_KEY)
    to_member_column: str
    start_column: str
    end_column: str | None = None
    severity: Severity = Severity.error


class AfterBirth(StrictModel):
    """`date_column` is on or after the member's birth date, looked up in another feed (e.g. members)."""

    rule: Literal["after_birth"]
    member_column: str
    date_column: str
    to: str = Field(pattern=FEED_KEY)
    to_member_column: str
    birth_column: str
    severity: Severity = Severity.error


class SumEquals(StrictModel):
    """Per group (e.g. a claim), `column` summed over the rows equals `total_column` (within `tolerance`)."""

    rule: Literal["sum_equals"]
    group_by: list[str] = Field(min_length=1)
    column: str
    total_column: str
    tolerance: float = Field(default=0.005, ge=0)
    severity: Severity = Severity.error


class QuarantineRate(StrictModel):
    """At most `max` (a fraction) of a partition's delivered rows went to quarantine."""

    rule: Literal["quarantine_rate"]
    max: float = Field(ge=0, le=1)
    severity: Severity = Severity.error


Validation = Annotated[
    NotNull | Unique | AcceptedValues | Regex | Range | Length | Expression | CodeFormat | DateOrder | RowCount
    | RowCountChange | UniqueAcrossPartitions | References | Eligible | AfterBirth | SumEquals | QuarantineRate,
    Field(discriminator="rule"),
]


def validation_type_problems(columns: dict[str, ColumnType], v: object) -> list[str]:
    """Rules applied to a column of the wrong type (a date range on a string column, ...)."""
    dates, numbers = {ColumnType.date, ColumnType.datetime}, {ColumnType.integer, ColumnType.decimal, ColumnType.float}
    wanted: list[tuple[str, set[ColumnType], str]] = []
    if isinstance(v, Range):
        bound = v.min if v.min is not None else v.max
        wanted.append((v.column, dates if isinstance(bound, dt.date) else numbers, "range"))
    elif isinstance(v, DateOrder):
        wanted += [(c, dates, "date_order") for c in v.columns]
    elif isinstance(v, CodeFormat) and v.rule == "not_in_future":
        wanted.append((v.column, dates, v.rule))
    elif isinstance(v, SumEquals):
        wanted += [(v.column, numbers, "sum_equals"), (v.total_column, numbers, "sum_equals")]
    elif isinstance(v, Eligible | AfterBirth):
        wanted.append((v.date_column, dates, v.rule))
    return [
        f"validations: {rule} on {name} needs a {' / '.join(sorted(t.value for t in kinds))} column, "
        f"but {name} is {columns[name].value}"
        for name, kinds, rule in wanted
        if name in columns and columns[name] not in kinds
    ]


def validation_columns(v: object) -> list[str]:
    """The columns of this feed a validation names (not those of a referenced feed)."""
    names = []
    for attr in ("column", "member_column", "date_column", "total_column"):
        if isinstance(getattr(v, attr, None), str):
            names.append(getattr(v, attr))
    for attr in ("columns", "group_by"):
        names += getattr(v, attr, None) or []
    return names
