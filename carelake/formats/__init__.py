"""Reading landed files of every declared format into frames of strings, one column per declared
column plus `_line`: unpacking (decryption, decompression, archives, transcoding) first, then the
format's reader. Typing and validation happen afterwards in `coercion.py`, shared by all formats.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from carelake.formats.delimited import read_delimited
from carelake.formats.fixed_width import read_fixed_width
from carelake.formats.frames import Reading
from carelake.formats.json import read_json
from carelake.formats.parquet import read_parquet
from carelake.formats.sas import read_sas
from carelake.formats.unpacking import PlainFile, unpack
from carelake.formats.xml import read_xml
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec

Reader = Callable[[SourceSpec, Path, str], Reading]

READERS: dict[str, Reader] = {
    "csv": read_delimited,
    "fixed_width": read_fixed_width,
    "xml": read_xml,
    "json": read_json,
    "ndjson": read_json,
    "parquet": read_parquet,
    "sas": read_sas,
}


def read_plain(spec: SourceSpec, plain: PlainFile) -> Reading:
    """Read one already unpacked file with the spec's format reader."""
    return READERS[spec.format.kind](spec, plain.path, plain.name)


@contextmanager
def open_delivery(spec: SourceSpec, path: Path, name: str) -> Iterator[list[tuple[PlainFile, Reading]]]:
    """The readings of a landed file (one per archive member); decoded copies live until the block exits."""
    with tempfile.TemporaryDirectory(prefix="carelake-unpack-") as work:
        yield [(plain, read_plain(spec, plain)) for plain in unpack(spec, path, name, Path(work))]


def count_records(spec: SourceSpec, path: Path, name: str) -> int:
    """How many records a landed file delivers (what ingestion must account for), read independently.

    Only `_line` is counted, on the streaming engine: batch by batch, no value kept. (`pl.len()` takes
    polars' fast CSV count instead, which maps the whole file: a 2 GB delivery held 2.2 GB of RSS.)
    """
    with open_delivery(spec, path, name) as readings:
        return sum(
            reading.frame.select(pl.col(LINE_COLUMN).count()).collect(engine="streaming").item() for _, reading in readings
        )


__all__ = ["READERS", "Reading", "count_records", "open_delivery", "read_plain"]
