"""Writers turn a frame of strings into a delivered file's bytes, one per format kind.

A registry keyed by `spec.format.kind`: each writer is the inverse of its reader in
`platform_assets/formats/` for the values the simulator generates, and declares the line (or record)
number its first data row gets from that reader, so injected faults name the line quarantine names.
Packaging (compression, zip, PGP) is applied afterwards by `simulation/packing.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from carelake.spec import SourceSpec

Writer = Callable[[SourceSpec, pl.DataFrame, bool], bytes]
WRITERS: dict[str, Writer] = {}
FIRST_LINES: dict[str, Callable[[SourceSpec], int]] = {}


def register(kind: str, first_line: Callable[[SourceSpec], int] = lambda spec: 1) -> Callable[[Writer], Writer]:
    """Register the writer for a format kind: `(spec, frame, first_chunk) -> bytes`, and the `_line`
    its reader gives the first data row (1 unless a header / prolog comes first)."""

    def add(writer: Writer) -> Writer:
        WRITERS[kind] = writer
        FIRST_LINES[kind] = first_line
        return writer

    return add


def first_line(spec: SourceSpec) -> int:
    """The `_line` the reader gives the first data row the spec's writer writes."""
    writer_for(spec)  # the same error for a kind without a writer
    return FIRST_LINES[spec.format.kind](spec)


def writer_for(spec: SourceSpec) -> Writer:
    """The writer for the spec's format; NotImplementedError names the kinds that exist."""
    try:
        return WRITERS[spec.format.kind]
    except KeyError:
        raise NotImplementedError(
            f"{spec.key}: the simulator has no writer for format {spec.format.kind!r} yet (writers: {sorted(WRITERS)}); "
            "register one in platform_assets/simulation/writers.py"
        ) from None


@register("csv", first_line=lambda spec: 2 if spec.format.header else 1)
def write_delimited(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """Delimited text with the spec's delimiter, quoting, header and encoding."""
    fmt = spec.format
    text = frame.write_csv(
        separator=fmt.delimiter,
        quote_char=fmt.quote_char or '"',
        quote_style="necessary" if fmt.quote_char else "never",
        include_header=fmt.header and first_chunk,
        null_value="",
    )
    if fmt.encoding == "utf-8-sig":
        return ("\ufeff" if first_chunk else "").encode() + text.encode("utf-8")
    return text.encode(fmt.encoding, errors="replace")


# Writers of the other formats register themselves on import; imported last because they use `register`.
from carelake.tools.simulation import (  # noqa: E402,F401
    columnar_writers,
    fixed_width_writer,
    json_writer,
    xml_writer,
)
