"""Writers turn a frame of strings into a delivered file's bytes, one per format kind.

A registry keyed by `spec.format.kind`, so writers for new formats (fixed-width, JSON, XML,
Parquet, ...) plug in with `@register("kind")` next to their readers.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from platform_assets.spec import SourceSpec

Writer = Callable[[SourceSpec, pl.DataFrame, bool], bytes]
WRITERS: dict[str, Writer] = {}


def register(kind: str) -> Callable[[Writer], Writer]:
    """Register the writer for a format kind: `(spec, frame, first_chunk) -> bytes`."""

    def add(writer: Writer) -> Writer:
        WRITERS[kind] = writer
        return writer

    return add


def writer_for(spec: SourceSpec) -> Writer:
    """The writer for the spec's format; NotImplementedError names the kinds that exist."""
    try:
        return WRITERS[spec.format.kind]
    except KeyError:
        raise NotImplementedError(
            f"{spec.key}: the simulator has no writer for format {spec.format.kind!r} yet (writers: {sorted(WRITERS)}); "
            "register one in platform_assets/simulation/writers.py"
        ) from None


@register("csv")
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
