"""XML: records streamed with lxml iterparse in constant memory; DTDs, entities and network refused.

A document declaring a DOCTYPE or ENTITY is rejected outright (billion laughs, external entities);
the parser is additionally configured never to resolve entities or touch the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
from lxml import etree
from polars.io.plugins import register_io_source

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import SchemaDrift
from carelake.formats.frames import Reading, string_schema
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec, XmlFormat

BATCH = 50_000
_PROLOG_BYTES = 1 << 16


def read_xml(spec: SourceSpec, path: Path, name: str) -> Reading:
    """One row per `record_element`; `_line` is the line the record starts on."""
    _refuse_dtd(path, name)
    schema = string_schema(spec)
    # Filled while records stream: XML has no header, so drift is known once the file is read.
    drift = SchemaDrift()

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        yield from _records(spec, path, name, schema, batch_size or BATCH, drift)

    return Reading(register_io_source(source, schema=schema), drift)


def _refuse_dtd(path: Path, name: str) -> None:
    with path.open("rb") as f:
        prolog = f.read(_PROLOG_BYTES).upper()
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise DeliveryError(
            name, prolog[: prolog.find(b"<!")].count(b"\n") + 1, "the XML declares a DTD / entities, which are refused "
            "(entity expansion and external entities are attack vectors)", "ask the provider for XML without a DOCTYPE",
        )


def _records(spec: SourceSpec, path: Path, name: str, schema: dict, batch: int, drift: SchemaDrift) -> Iterator[pl.DataFrame]:
    fmt: XmlFormat = spec.format
    paths = {c.name: fmt.paths.get(c.name) for c in spec.columns}
    mapped = {(w or c).split("/")[0] for c, w in paths.items()} | {c for c, w in paths.items() if w is None}
    seen: set[str] = set()
    rows: dict[str, list] = {k: [] for k in schema}
    parser = etree.iterparse(
        str(path), events=("end",), tag=fmt.record_element, resolve_entities=False, no_network=True,
        load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True,
    )
    try:
        for _, element in parser:
            rows[LINE_COLUMN].append(element.sourceline)
            seen.update(child.tag for child in element if isinstance(child.tag, str))
            seen.update(f"@{a}" for a in element.attrib)
            for column, where in paths.items():
                rows[column].append(_value(element, column, where))
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
            if len(rows[LINE_COLUMN]) >= batch:
                yield pl.DataFrame(rows, schema=schema)
                rows = {k: [] for k in schema}
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise DeliveryError(name, line, f"the XML is malformed ({without_values(exc.msg)})", "ask the provider to re-send a well-formed file") from None
    yield pl.DataFrame(rows, schema=schema)
    # Report-only: an element missing from every record is normal for optional data in XML.
    drift.new.extend(sorted(t for t in seen - mapped if t.lstrip("@") not in mapped))


def _value(element, column: str, where: str | None) -> str | None:
    if where is None:
        child = element.find(column)
        if child is not None:
            return child.text
        return element.get(column)
    if where.startswith("@"):
        return element.get(where[1:])
    if "/@" in where:
        child_path, attribute = where.rsplit("/@", 1)
        child = element.find(child_path)
        return child.get(attribute) if child is not None else None
    return element.findtext(where)
