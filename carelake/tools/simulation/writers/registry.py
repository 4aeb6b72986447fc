"""The writers' registry, keyed by `spec.format.kind` (each format module registers itself)."""

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
