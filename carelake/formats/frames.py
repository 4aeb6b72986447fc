"""The shape every reader returns: `_line` plus each declared column as strings, and optional
`_format_error` (why a record could not be split into fields) and `_raw` (that record's raw text).

A reader that has read the whole text file and found no control character in it says so with the
constant column `__no_control_chars`; typing then skips the per-value check (it costs as much
as stripping each string column).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from carelake.formats.drift import SchemaDrift
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec

FORMAT_ERROR_COLUMN = "_format_error"
RAW_COLUMN = "_raw"
NO_CONTROLS_COLUMN = "__no_control_chars"


@dataclass
class Reading:
    """A lazily read file and the drift found in its header / schema (reported as metadata).

    `trimmed`: the reader already stripped surrounding whitespace from every value.
    """

    frame: pl.LazyFrame
    drift: SchemaDrift = field(default_factory=SchemaDrift)
    trimmed: bool = False


def string_schema(spec: SourceSpec, *, errors: bool = False) -> dict[str, pl.DataType]:
    """The reader output schema, for readers built on Python generators."""
    schema: dict[str, pl.DataType] = {LINE_COLUMN: pl.Int64(), **{c.name: pl.String() for c in spec.columns}}
    if errors:
        schema |= {FORMAT_ERROR_COLUMN: pl.String(), RAW_COLUMN: pl.String()}
    return schema


def finish(spec: SourceSpec, frame: pl.LazyFrame, fill_nulls: list[str] = (), *, no_controls: bool = False) -> pl.LazyFrame:
    """Declared columns in spec order (absent ones as nulls, per the drift policy), `_line` first.

    `no_controls`: the reader scanned the whole file and found no control character."""
    extra = [c for c in (FORMAT_ERROR_COLUMN, RAW_COLUMN) if c in frame.collect_schema().names()]
    marker = [pl.lit(True).alias(NO_CONTROLS_COLUMN)] if no_controls else []
    return frame.with_columns([pl.lit(None, pl.String).alias(c) for c in fill_nulls]).select(
        pl.col(LINE_COLUMN).cast(pl.Int64), *[pl.col(c.name).cast(pl.String) for c in spec.columns], *extra, *marker
    )
