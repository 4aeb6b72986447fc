"""Reading a landed file into a frame of strings, one column per declared column, plus `_line`.

Readers only split records into fields; typing and validation happen in `coercion.py`, so every
format shares one set of rules and one quarantine.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from platform_assets.errors import DeliveryError
from platform_assets.spec import CsvFormat, SourceSpec

LINE_COLUMN = "_line"
FILE_COLUMN = "_file"


def read_delivery(spec: SourceSpec, path: Path, display_name: str) -> pl.LazyFrame:
    """All declared columns as strings (nulls where the format's null markers are), with `_line`."""
    if isinstance(spec.format, CsvFormat):
        return _read_csv(spec, spec.format, path, display_name)
    raise NotImplementedError(f"{spec.key}: no reader for format {spec.format.kind!r}")  # pragma: no cover


def _read_csv(spec: SourceSpec, fmt: CsvFormat, path: Path, name: str) -> pl.LazyFrame:
    declared = [c.name for c in spec.columns]
    if path.stat().st_size == 0:
        raise DeliveryError(name, None, "the file is empty", "ask the provider to re-send the delivery")
    options = dict(
        separator=fmt.delimiter,
        quote_char=fmt.quote_char,
        infer_schema=False,
        null_values=fmt.null_values,
        encoding="utf8",
    )
    if fmt.header:
        header = _header(path, fmt, name)
        missing = [c for c in declared if c not in header]
        if missing:
            raise DeliveryError(
                name,
                1,
                f"the header lacks declared columns {missing} (found {header})",
                f"ask the provider to re-send with every column of sources/{spec.key}.yaml, "
                "or change the spec and bump its schema_version",
            )
        _complete_or_raise(path, fmt, len(header), name)
        frame = pl.scan_csv(path, has_header=True, **options)
        first_line = 2
    else:
        _complete_or_raise(path, fmt, len(declared), name)
        frame = pl.scan_csv(path, has_header=False, new_columns=declared, **options)
        first_line = 1
    return (
        frame.with_row_index(LINE_COLUMN, offset=first_line)
        .select(LINE_COLUMN, *declared)
        .with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    )


def _header(path: Path, fmt: CsvFormat, name: str) -> list[str]:
    try:
        return pl.scan_csv(
            path, separator=fmt.delimiter, quote_char=fmt.quote_char, infer_schema=False, n_rows=0
        ).collect_schema().names()
    except pl.exceptions.ComputeError as exc:
        raise DeliveryError(name, 1, f"the header cannot be read ({exc})", "check the file's format and encoding") from None


def _complete_or_raise(path: Path, fmt: CsvFormat, fields: int, name: str) -> None:
    """Raise if the file ends inside a record: no final line break and a short last record."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - (1 << 16)))
        tail = fh.read()
    if tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode(fmt.encoding.replace("utf-8-sig", "utf-8"), errors="replace")
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
