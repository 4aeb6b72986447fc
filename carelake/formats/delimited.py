"""CSV, TSV and pipe-delimited text: polars' streaming CSV scanner over a UTF-8 file.

`_line` is the physical line a record starts on: polars numbers records, so where a quoted field
may span lines (a pass over the file follows the quotes while there are few, else assumes so)
the line breaks inside each record's fields are added up along the stream; comment lines before
the header or first record are counted too (not yet those between records).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import compare, enforce
from carelake.formats.frames import Reading, finish, scan_text
from carelake.names import LINE_COLUMN
from carelake.spec import CsvFormat, SourceSpec

_TRAILING = "__trailing_delimiter"
_BREAKS = "__line_breaks"
BATCH = 100_000


def read_delimited(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns as strings with `_line`; header drift checked against the spec's policy."""
    fmt: CsvFormat = spec.format
    declared = [c.name for c in spec.columns]
    # A column with its own null_values / blank_value sees blanks as delivered; the others as before.
    keep_blanks = spec.declares_nulls
    options = dict(
        separator=fmt.delimiter, quote_char=fmt.quote_char, infer_schema=False, null_values=None if keep_blanks else fmt.null_values,
        empty_string_is_null=not keep_blanks, encoding="utf8", comment_prefix=fmt.comment_prefix,
    )
    if fmt.header:
        header = _header(path, fmt, name)
        leading, header_fields, header_lines = _first_record(path, fmt)
        _no_duplicates(spec, header_fields, name, leading + 1)
        drift = compare(spec, header)
        fill = enforce(spec, drift, name)
        _complete_or_raise(path, fmt, len(header), name)
        frame = pl.scan_csv(path, has_header=True, **options)
        columns, first_line = header, leading + header_lines + 1
    else:
        drift, fill = compare(spec, declared), []
        columns = declared + ([_TRAILING] if fmt.trailing_delimiter else [])
        leading, header_fields, _ = _first_record(path, fmt)
        if header_fields is None:
            raise DeliveryError(name, leading + 1, "the first record cannot be read", "check the file's format, quoting and encoding")
        if len(header_fields) != len(columns):
            raise DeliveryError(
                name, leading + 1, f"the first record has {len(header_fields)} fields but the spec declares {len(columns)} "
                f"(format.header: false{', trailing_delimiter: true' if fmt.trailing_delimiter else ''})",
                f"declare every field of the file, in order, under columns of sources/{spec.key}.yaml, "
                "or set format.header: true if the first line names the columns",
            )
        _complete_or_raise(path, fmt, len(declared), name)
        frame = pl.scan_csv(path, has_header=False, new_columns=columns, **options)
        first_line = leading + 1
    scan = scan_text(path, fmt.quote_char, fmt.delimiter)
    frame = frame.with_row_index(LINE_COLUMN, offset=first_line).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    if scan.quoted_line_breaks:
        frame = _physical_lines(frame, columns)
    if fmt.trailer_prefix:
        first = header[0] if fmt.header else declared[0]
        frame = frame.filter(~pl.col(first).str.starts_with(fmt.trailer_prefix).fill_null(False))
    if keep_blanks:
        frame = frame.with_columns(_format_nulls(spec, fmt, columns))
    return Reading(finish(spec, frame, fill, no_controls=not scan.controls), drift)


def _format_nulls(spec: SourceSpec, fmt: CsvFormat, columns: list[str]) -> list[pl.Expr]:
    """The format's null_values read as null, as polars' reader does, in the columns that do not declare their own."""
    others = {c.name for c in spec.columns if c.null_values is None and c.blank_value is None}
    return [pl.when(~pl.col(c).is_in(fmt.null_values)).then(pl.col(c)).alias(c) for c in columns if c in others]


def _physical_lines(frame: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """`_line` moved down by the line breaks inside the quoted fields of every earlier record.

    A running sum over the stream: polars' `cum_sum` is not streaming (a 0.8 GB file held 2.4 GB),
    so the scan's batches are taken in order and each adds its own breaks to the carried total
    (vectorised per batch; one Python step per batch).
    """
    breaks = pl.sum_horizontal([pl.col(c).str.count_matches("\n", literal=True).fill_null(0).cast(pl.Int64) for c in columns])
    schema = frame.collect_schema()

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        carried = 0
        for batch in frame.collect_batches(chunk_size=batch_size or BATCH, maintain_order=True, lazy=True):
            counted = batch.with_columns(breaks.alias(_BREAKS))
            yield counted.select(
                (pl.col(LINE_COLUMN) + carried + pl.col(_BREAKS).cum_sum() - pl.col(_BREAKS)).alias(LINE_COLUMN), pl.exclude(LINE_COLUMN, _BREAKS)
            ).select(schema.names())
            carried += int(counted[_BREAKS].sum())

    return register_io_source(source, schema=schema)


def _first_record(path: Path, fmt: CsvFormat) -> tuple[int, list[str] | None, int]:
    """(comment lines before it, the fields of the first record as Python's csv reads them (None if it
    cannot), the lines it spans)."""
    leading = 0
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:

        def lines():
            nonlocal leading
            for line in fh:
                if fmt.comment_prefix and line.startswith(fmt.comment_prefix):
                    leading += 1
                    continue
                yield line
                break
            yield from fh

        quoting = csv.QUOTE_NONE if fmt.quote_char is None else csv.QUOTE_MINIMAL
        reader = csv.reader(lines(), delimiter=fmt.delimiter, quotechar=fmt.quote_char or '"', quoting=quoting)
        try:
            fields = next(reader, [])
        except csv.Error:
            return leading, None, 1
        return leading, fields, max(reader.line_num, 1)


def _no_duplicates(spec: SourceSpec, fields: list[str] | None, name: str, line: int) -> None:
    """A declared column named twice in the header is ambiguous (polars would read the first)."""
    declared = {c.name for c in spec.columns}
    twice = sorted({f for f in fields or [] if f in declared and fields.count(f) > 1})
    if twice:
        where = {f: [i + 1 for i, g in enumerate(fields) if g == f] for f in twice}
        raise DeliveryError(
            name, line, f"the header names declared columns more than once {where} (column positions): which one holds "
            "the values is ambiguous", "ask the provider to re-send with unique column names",
        )


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
