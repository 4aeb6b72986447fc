"""The one PHI sample policy: what a sample of rows shown outside the lake (check results,
quarantine metadata, the profiler's report) may carry. Enough to find and fix, never PHI.

A sample row carries the file and line it came from plus the columns in question. Values of
columns the spec annotates as PHI, and whole delivered records (`_record`, which hold every
column), keep only their shape (digits -> 9, letters -> X): that usually tells what is wrong
(`99999999` where a date was expected) without disclosing the value. Other values are cut to
40 characters.
"""

from __future__ import annotations

import re

import polars as pl

from carelake.names import FILE_COLUMN, LINE_COLUMN, PARTITION_COLUMN, RECORD_COLUMN
from carelake.spec import SourceSpec

SAMPLE_SIZE = 5
_MAX_CHARS = 40
_DIGIT, _LETTER = r"[0-9]", r"[^\W\d_]"


def phi_columns(spec: SourceSpec | None) -> set[str]:
    """Columns whose values a sample shows only as shapes: the spec's PHI columns and whole records."""
    return {RECORD_COLUMN, *(c.name for c in spec.columns if c.phi)} if spec else {RECORD_COLUMN}


def shape_text(value: str) -> str:
    """`shape_of` for one Python string (the same regular expressions)."""
    return re.sub(_LETTER, "X", re.sub(_DIGIT, "9", value))


def sample_value(column: str, value: str | None, phi: set[str]) -> str | None:
    """One value as a sample may show it: a PHI column's (or a whole record's) shape, others cut short."""
    if value is None:
        return None
    return shape_text(value[:_MAX_CHARS]) if column in phi else value[:_MAX_CHARS]


def shape_of(value: pl.Expr) -> pl.Expr:
    """The value's shape: every digit becomes 9, every letter X; punctuation and length stay."""
    return value.cast(pl.String).str.replace_all(_DIGIT, "9").str.replace_all(_LETTER, "X")


def masked_columns(spec: SourceSpec | None, columns: list[str], available: list[str]) -> list[pl.Expr]:
    """Expressions for a sample's rule columns: PHI columns as their shape, others truncated."""
    phi = phi_columns(spec)
    out = []
    for name in dict.fromkeys(columns):
        if name not in available:
            continue
        text = pl.col(name).cast(pl.String).str.slice(0, _MAX_CHARS)
        out.append((shape_of(text) if name in phi else text).alias(name))
    return out


def sample_rows(frame: pl.LazyFrame, failing: pl.Expr, spec: SourceSpec | None, columns: list[str]) -> list[dict]:
    """Up to SAMPLE_SIZE failing rows as masked dicts (partition, file, line and the rule's columns)."""
    available = frame.collect_schema().names()
    where = [c for c in (PARTITION_COLUMN, FILE_COLUMN, LINE_COLUMN) if c in available]
    return (
        frame.filter(failing)
        .head(SAMPLE_SIZE)
        .select(*[pl.col(c) for c in where], *masked_columns(spec, columns, available))
        .collect()
        .to_dicts()
    )
