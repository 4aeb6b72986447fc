"""CSV, TSV and pipe-delimited text: polars' streaming CSV scanner over a UTF-8 file."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import compare, enforce
from carelake.formats.frames import Reading, finish
from carelake.names import LINE_COLUMN
from carelake.spec import CsvFormat, SourceSpec

_TRAILING = "__trailing_delimiter"


def read_delimited(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns as strings with `_line`; header drift checked against the spec's policy."""
    fmt: CsvFormat = spec.format
    declared = [c.name for c in spec.columns]
    options = dict(
        separator=fmt.delimiter, quote_char=fmt.quote_char, infer_schema=False, null_values=fmt.null_values,
        encoding="utf8", comment_prefix=fmt.comment_prefix,
    )
    if fmt.header:
        header = _header(path, fmt, name)
        drift = compare(spec, header)
        fill = enforce(spec, drift, name)
        _complete_or_raise(path, fmt, len(header), name)
        frame = pl.scan_csv(path, has_header=True, **options)
        first_line = 2
    else:
        drift, fill = compare(spec, declared), []
        _complete_or_raise(path, fmt, len(declared), name)
        frame = pl.scan_csv(path, has_header=False, new_columns=declared + ([_TRAILING] if fmt.trailing_delimiter else []), **options)
        first_line = 1
    frame = frame.with_row_index(LINE_COLUMN, offset=first_line)
    if fmt.trailer_prefix:
        first = header[0] if fmt.header else declared[0]
        frame = frame.filter(~pl.col(first).str.starts_with(fmt.trailer_prefix).fill_null(False))
    return Reading(finish(spec, frame, fill), drift)


def _header(path: Path, fmt: CsvFormat, name: str) -> list[str]:
    try:
        names = pl.scan_csv(
            path, separator=fmt.delimiter, quote_char=fmt.quote_char, infer_schema=False, n_rows=0,
            comment_prefix=fmt.comment_prefix,
        ).collect_schema().names()
    except pl.exceptions.PolarsError as exc:
        raise DeliveryError(name, 1, f"the header cannot be read ({without_values(exc)})", "check the file's format and encoding") from None
    return names


def _complete_or_raise(path: Path, fmt: CsvFormat, fields: int, name: str) -> None:
    """Raise if the file ends inside a record: no final line break and a short last record."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - (1 << 16)))
        tail = fh.read()
    if not tail or tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    found = len(next(csv.reader([last], delimiter=fmt.delimiter, quotechar=fmt.quote_char or '"'), []))
    if found >= fields:
        return
    with path.open("rb") as fh:
        line = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) + 1
    raise DeliveryError(
        name,
        line,
        f"the file ends in the middle of a record ({found} of {fields} fields, no line break): it looks truncated",
        "ask the provider to re-send the complete file",
    )
