"""XML writer: one `record_element` per line under a root element, columns placed by `format.paths`.

The inverse of `formats/xml.py`: a column without a path is a child element named like it, `@a` an
attribute of the record, `child/@a` an attribute of a child element, `a/b` nested child elements.
An empty value is left out, which the reader reads as null. Records start on line 3 (after the XML
declaration and the root's start tag), so each record's `_line` is its row number + 2.
"""

from __future__ import annotations

import polars as pl
from lxml import etree

from carelake.spec import SourceSpec, XmlFormat
from carelake.tools.simulation.writers.registry import register

PROLOG_LINES = 2


@register("xml", first_line=lambda spec: PROLOG_LINES + 1)
def write_xml(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """A UTF-8 XML document, one record element per line."""
    fmt: XmlFormat = spec.format
    root = _root_tag(fmt.record_element)
    where = {c: fmt.paths.get(c) for c in frame.columns}
    out = [b'<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}>\n".encode()]
    for row in frame.iter_rows(named=True):
        record = etree.Element(fmt.record_element)
        for column, value in row.items():
            if value is not None and value != "":
                _put(record, column, where[column], value)
        out.append(etree.tostring(record, encoding="utf-8") + b"\n")
    out.append(f"</{root}>\n".encode())
    return b"".join(out)


def _root_tag(record: str) -> str:
    # Never the record's own tag: the reader would take the root for one more record.
    return "deliveries" if record == "delivery" else "delivery"


def _put(record: etree._Element, column: str, where: str | None, value: str) -> None:
    if where is None:
        etree.SubElement(record, column).text = value
    elif where.startswith("@"):
        record.set(where[1:], value)
    elif "/@" in where:
        child_path, attribute = where.rsplit("/@", 1)
        _child(record, child_path).set(attribute, value)
    else:
        _child(record, where).text = value


def _child(record: etree._Element, path: str) -> etree._Element:
    """The element at a slash path under the record, created (and shared by later columns) if absent."""
    node = record
    for tag in path.split("/"):
        found = node.find(tag)
        node = found if found is not None else etree.SubElement(node, tag)
    return node
