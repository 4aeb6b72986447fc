"""JSON documents (records under a dotted `record_path`) and NDJSON (one record per line).

NDJSON streams line by line; a line that is not a JSON object (or nests deeper than Python's
parser can go) becomes a format error in quarantine with its raw text. A JSON document is parsed
whole, within `max_document_bytes`; one nested too deeply fails with the line where it does.

Numbers keep the text they were delivered as (`1.50`, `12345678901234567.89`), not the text of
the nearest double; an exponent is written out in full (`1E+2` -> `100`) where that stays short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import SchemaDrift
from carelake.formats.frames import (
    FORMAT_ERROR_COLUMN,
    RAW_COLUMN,
    Reading,
    string_schema,
)
from carelake.names import LINE_COLUMN
from carelake.spec import JsonFormat, SourceSpec

BATCH = 50_000
MAX_DEPTH = 500  # reported as the depth limit; Python's parser itself stops near its recursion limit
_TOO_DEEP = "the record nests deeper than the JSON parser allows"


class _Number(float):
    """A JSON number as the double json builds (nested values dump as before) and its delivered text."""

    text: str

    def __new__(cls, text: str) -> _Number:
        number = super().__new__(cls, text)
        number.text = text
        return number


class _TooDeep:
    """Marks an NDJSON line Python's parser could not read for its nesting."""


def _loads(text: str) -> object:
    return json.loads(text, parse_float=_Number, parse_constant=_Number)


def read_json(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns from each record (nested values as JSON text); `_line` is the line or record number."""
    fmt: JsonFormat = spec.format
    schema = string_schema(spec, errors=True)
    if fmt.kind == "json" and path.stat().st_size > fmt.max_document_bytes:
        raise DeliveryError(
            name, None, f"the JSON document is larger than max_document_bytes ({fmt.max_document_bytes})",
            "ask the provider for NDJSON (kind: ndjson), or raise format.max_document_bytes",
        )

    drift = SchemaDrift()  # keys no column maps, known once the records have streamed

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        records = _ndjson(path, name) if fmt.kind == "ndjson" else _document(fmt, path, name)
        yield from _batches(spec, fmt, records, schema, batch_size or BATCH, drift)

    return Reading(register_io_source(source, schema=schema), drift)


def _ndjson(path: Path, name: str) -> Iterator[tuple[int, object, str | None]]:
    with path.open("rb") as lines:
        for number, data in enumerate(lines, start=1):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise DeliveryError(name, number, "a byte is not valid UTF-8", "fix the file's encoding (NDJSON is UTF-8)") from None
            if not text.strip():
                continue
            try:
                yield number, _loads(text), text.rstrip("\r\n")
            except json.JSONDecodeError:
                yield number, None, text.rstrip("\r\n")
            except RecursionError:
                yield number, _TooDeep(), text.rstrip("\r\n")


def _document(fmt: JsonFormat, path: Path, name: str) -> Iterator[tuple[int, object, str | None]]:
    try:
        with path.open("r", encoding="utf-8") as f:
            document = _loads(f.read())
    except UnicodeDecodeError:
        raise DeliveryError(name, None, "a byte is not valid UTF-8", "fix the file's encoding (JSON is UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise DeliveryError(name, exc.lineno, f"the JSON is malformed ({without_values(exc.msg)})", "ask the provider to re-send a valid document") from None
    except RecursionError:
        raise DeliveryError(
            name, _deep_line(path), f"the JSON nests deeper than {MAX_DEPTH} levels, more than the parser can read",
            "ask the provider for flatter records (or NDJSON, where such a record is quarantined alone)",
        ) from None
    records = _at(document, fmt.record_path)
    if not isinstance(records, list):
        raise DeliveryError(
            name, None, f"record_path {fmt.record_path!r} does not lead to a list of records",
            "fix format.record_path in the spec, or ask the provider for the agreed structure",
        )
    for number, record in enumerate(records, start=1):
        yield number, record, None


def _deep_line(path: Path) -> int | None:
    """The line where the nesting first passes MAX_DEPTH (brackets inside strings do not count)."""
    depth, line = 0, 1
    with path.open("r", encoding="utf-8") as f:
        text = f.read()
    for token in re.finditer(r'"(?:[^"\\\n]|\\.)*"|[\[{]|[\]}]|\n', text):
        kind = token.group()[0]
        if kind == "\n":
            line += 1
        elif kind in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif kind in "]}":
            depth -= 1
    return None


def _at(value: object, dotted: str | None) -> object:
    for part in (dotted.split(".") if dotted else []):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Number):
        return _number_text(value.text)
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"))


def _number_text(text: str) -> str:
    if "e" not in text and "E" not in text or not text[-1].isdigit():
        return text
    number = Decimal(text)
    return format(number, "f") if abs(number.adjusted()) <= 64 else text


def _batches(spec, fmt: JsonFormat, records, schema: dict, batch: int, drift: SchemaDrift) -> Iterator[pl.DataFrame]:
    paths = {c.name: fmt.paths.get(c.name, c.name) for c in spec.columns}
    mapped, seen = {p.split(".")[0] for p in paths.values()}, set()
    rows: dict[str, list] = {k: [] for k in schema}
    for number, record, raw in records:
        rows[LINE_COLUMN].append(number)
        ok = isinstance(record, dict)
        if ok:
            seen.update(record)
        for column, where in paths.items():
            rows[column].append(_text(_at(record, where)) if ok else None)
        rows[FORMAT_ERROR_COLUMN].append(None if ok else _TOO_DEEP if isinstance(record, _TooDeep) else "the record is not a JSON object")
        rows[RAW_COLUMN].append(None if ok else (raw if raw is not None else _text(record)))
        if len(rows[LINE_COLUMN]) >= batch:
            yield pl.DataFrame(rows, schema=schema)
            rows = {k: [] for k in schema}
    yield pl.DataFrame(rows, schema=schema)
    drift.new.extend(sorted(seen - mapped))
