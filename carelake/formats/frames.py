"""The shape every reader returns: `_line` plus each declared column as strings, and optional
`_format_error` (why a record could not be split into fields) and `_raw` (that record's raw text).

A reader that has read the whole text file and found no control character in it says so with the
constant column `__no_control_chars`; typing then skips the per-value check (it costs as much
as stripping each string column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from carelake.formats.drift import SchemaDrift
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec

FORMAT_ERROR_COLUMN = "_format_error"
RAW_COLUMN = "_raw"
NO_CONTROLS_COLUMN = "__no_control_chars"
_CHUNK = 8 << 20
# Bytes that start a control character in UTF-8 text (\xc2 leads U+0080-U+00BF, C1 among them,
# so a file with a NBSP or a pound sign is checked value by value), and, to delete, every other byte.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xC2])
_OTHER_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)


@dataclass(frozen=True)
class TextScan:
    """What one pass over a UTF-8 text file found: a control character (or a byte that may start
    one), and whether a quoted field may hold a line break (True also when too many quotes to
    follow them here: the reader then counts line breaks per record)."""

    controls: bool
    quoted_line_breaks: bool


_QUOTES_FOLLOWED = 200_000  # beyond, following quotes in Python costs more than counting per record


def scan_text(path: Path, quote: str | None, delimiter: str = ",") -> TextScan:
    """One pass in 8 MB chunks: `bytes.translate` deletes every byte but controls and quotes (about
    0.5 s per GB with the read), and the quotes are followed pair by pair while they are few. A quote opens a
    field only at its start (after a delimiter, a line break or the closing quote of an escaped
    `""`); elsewhere in an unquoted field it is text, as polars reads it."""
    controls = breaks = False
    needle = quote.encode() if quote else None
    starts = {b"\n", b"\r", delimiter.encode(), needle, b""}
    # One translate finds both: what is left of a chunk is its control bytes and its quotes.
    other = _OTHER_BYTES.replace(needle, b"") if needle else _OTHER_BYTES
    inside, budget, previous = False, _QUOTES_FOLLOWED, b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            kept = chunk.translate(None, other)
            count = kept.count(needle) if needle else 0
            controls = controls or len(kept) > count
            if needle is None or breaks:
                continue
            budget -= count
            if budget < 0:
                breaks = True
                continue
            start, at = 0, -1
            for _ in range(count):
                at = chunk.find(needle, at + 1)
                if inside:
                    if chunk.find(b"\n", start, at) >= 0:
                        breaks = True
                        break
                    inside = False
                elif (chunk[at - 1 : at] if at else previous) in starts:
                    start, inside = at + 1, True
            else:
                breaks = inside and chunk.find(b"\n", start) >= 0
            previous = chunk[-1:]
    return TextScan(controls, breaks)


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
