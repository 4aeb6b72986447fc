"""XML: records streamed with lxml iterparse in constant memory; DTDs, entities and network refused.

A document with a DOCTYPE (internal or external DTD, so any entity declaration) is rejected before
any record is read (billion laughs, external entities), wherever in the prolog it is and in any
encoding: libxml2 itself reads the prolog up to the root element and says whether a DTD was there.
Without a DTD, a reference to any entity but the five predefined ones is a well-formedness error,
reported as such. The parser never resolves entities nor touches the network.
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
_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True)
_REFUSED = (
    "the XML declares a DTD / entities, which are refused (entity expansion and external entities are attack vectors)"
)


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
    """Raise if the document has a DOCTYPE: libxml2 parses the prolog (decoding it as declared) up to the root's start."""
    try:
        for _, root in etree.iterparse(str(path), events=("start",), **_PARSER):
            info = root.getroottree().docinfo
            if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
                raise DeliveryError(name, _doctype_line(path, root.sourceline), _REFUSED, "ask the provider for XML without a DOCTYPE")
            return
    except etree.XMLSyntaxError:
        return  # malformed before the root: the record pass reports it with its line


def _doctype_line(path: Path, root_line: int | None) -> int | None:
    """The line of `<!DOCTYPE` in whichever of the usual encodings the file is in (else the root's line)."""
    with path.open("rb") as f:
        data = f.read(64 << 20)
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        at = data.find("<!DOCTYPE".encode(codec))
        if at >= 0:
            return data[:at].count("\n".encode(codec)) + 1
    return root_line


def _records(spec: SourceSpec, path: Path, name: str, schema: dict, batch: int, drift: SchemaDrift) -> Iterator[pl.DataFrame]:
    fmt: XmlFormat = spec.format
    paths = {c.name: fmt.paths.get(c.name) for c in spec.columns}
    mapped = {(w or c).split("/")[0] for c, w in paths.items()} | {c for c, w in paths.items() if w is None}
    seen: set[str] = set()
    rows: dict[str, list] = {k: [] for k in schema}
    parser = etree.iterparse(str(path), events=("end",), tag=fmt.record_element, **_PARSER)
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
        first = next((e for e in exc.error_log if e.level >= etree.ErrorLevels.ERROR), None)
        line = exc.lineno or (first.line if first is not None else None) or None
        if first is not None and first.type_name == "ERR_UNDECLARED_ENTITY":
            raise DeliveryError(
                name, first.line or line, "the XML refers to an entity it does not declare (only &amp; &lt; &gt; &quot; &apos; "
                "and character references are allowed; DTDs and entities are refused)", "ask the provider to re-send with the text escaped",
            ) from None
        message = exc.msg if exc.lineno or first is None else first.message
        raise DeliveryError(name, line, f"the XML is malformed ({without_values(message)})", "ask the provider to re-send a well-formed file") from None
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
