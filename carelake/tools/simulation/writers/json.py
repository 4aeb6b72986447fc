"""JSON and NDJSON writers: one object per record, columns placed at their dotted `format.paths`.

The inverse of `formats/json.py`: values stay strings (the reader passes strings through
unchanged, so typing sees exactly what the simulator generated) and an empty value is left out,
which the reader reads as null. A JSON document nests the record array at `record_path`; its
records are numbered from 1, as are NDJSON lines (one record per line, no blank lines).
"""

from __future__ import annotations

import json

import polars as pl

from carelake.spec import JsonFormat, SourceSpec
from carelake.tools.simulation.writers.registry import register


def _records(fmt: JsonFormat, frame: pl.DataFrame) -> list[dict]:
    paths = {c: fmt.paths.get(c, c).split(".") for c in frame.columns}
    records = []
    for row in frame.iter_rows(named=True):
        record: dict = {}
        for column, value in row.items():
            if value is None or value == "":
                continue
            *parents, leaf = paths[column]
            node = record
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        records.append(record)
    return records


@register("json")
def write_json(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """One JSON document with the records under `record_path` (a top-level array without one)."""
    fmt: JsonFormat = spec.format
    document: object = _records(fmt, frame)
    for part in reversed(fmt.record_path.split(".") if fmt.record_path else []):
        document = {part: document}
    return (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")


@register("ndjson")
def write_ndjson(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """One JSON object per line."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records(spec.format, frame)).encode("utf-8")
