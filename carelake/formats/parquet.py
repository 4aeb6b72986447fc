"""Parquet: scanned lazily by polars; its schema is compared with the spec before reading."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import compare, enforce
from carelake.formats.frames import Reading, finish
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec


def read_parquet(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns cast to strings (typing is coercion's job); `_line` is the 1-based row number."""
    try:
        frame = pl.scan_parquet(path)
        schema = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DeliveryError(name, None, f"not a readable Parquet file ({without_values(exc)})", "ask the provider to re-send the file") from None
    drift = compare(spec, schema.names(), {n: str(t) for n, t in schema.items()})
    fill = enforce(spec, drift, name)
    present = [c.name for c in spec.columns if c.name in schema]
    frame = frame.select(present).with_row_index(LINE_COLUMN, offset=1)
    return Reading(finish(spec, frame, fill), drift)
