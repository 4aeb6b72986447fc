"""Parquet: string columns (empty values as nulls), the inverse of `carelake/formats/parquet.py`, which
accepts a string column for every declared type (typing is coercion's job) and reports no drift for it."""

from __future__ import annotations

import io

import polars as pl

from carelake.spec import SourceSpec
from carelake.tools.simulation.writers.registry import register


@register("parquet")
def write_parquet(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """A Parquet file of string columns (empty values as nulls)."""
    out = io.BytesIO()
    frame.with_columns(pl.all().replace("", None)).write_parquet(out)
    return out.getvalue()
