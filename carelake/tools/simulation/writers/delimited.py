"""Delimited text: the inverse of `carelake/formats/delimited.py` for the values the simulator generates."""

from __future__ import annotations

import polars as pl

from carelake.spec import SourceSpec
from carelake.tools.simulation.writers.registry import register


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
