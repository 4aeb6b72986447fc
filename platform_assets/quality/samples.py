"""Small masked samples of failing rows for check results: enough to find and fix, never PHI.

A sample row carries the file and line it came from plus the rule's columns. Values of columns
the spec annotates as PHI keep only their shape (digits -> 9, letters -> X), which usually tells
what is wrong (`99999999` where a date was expected) without disclosing the value.
"""

from __future__ import annotations

import polars as pl

from platform_assets.readers import FILE_COLUMN, LINE_COLUMN
from platform_assets.spec import SourceSpec
from resources.lake import PARTITION_COLUMN

SAMPLE_SIZE = 5
_MAX_CHARS = 40


def shape_of(value: pl.Expr) -> pl.Expr:
    """The value's shape: every digit becomes 9, every letter X; punctuation and length stay."""
    return value.cast(pl.String).str.replace_all(r"[0-9]", "9").str.replace_all(r"[^\W\d_]", "X")


def masked_columns(spec: SourceSpec | None, columns: list[str], available: list[str]) -> list[pl.Expr]:
    """Expressions for a sample's rule columns: PHI columns as their shape, others truncated."""
    phi = {c.name for c in spec.columns if c.phi} if spec else set()
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
