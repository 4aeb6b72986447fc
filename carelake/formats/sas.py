"""SAS `.sas7bdat` and transport `.xpt` files, read in chunks with pyreadstat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import polars as pl
import pyreadstat
from polars.io.plugins import register_io_source

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import compare, enforce
from carelake.formats.frames import Reading, string_schema
from carelake.names import LINE_COLUMN
from carelake.spec import SasFormat, SourceSpec

BATCH = 100_000


def read_sas(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns as strings (dates as ISO text); `_line` is the 1-based observation number."""
    fmt: SasFormat = spec.format
    variant = fmt.variant
    if variant == "auto":
        # The name may still carry packaging suffixes (`.xpt.gz`); a zip member's own name follows the '!'.
        suffixes = {suffix.lower() for suffix in PurePosixPath(name.rsplit("!", 1)[-1]).suffixes}
        variant = "xpt" if suffixes & {".xpt", ".xport"} else "sas7bdat"
    reader = pyreadstat.read_xport if variant == "xpt" else pyreadstat.read_sas7bdat
    try:
        _, meta = reader(str(path), metadataonly=True, output_format="polars")
    except Exception as exc:  # pyreadstat raises its own and ReadstatError types
        raise DeliveryError(name, None, f"not a readable SAS {variant} file ({type(exc).__name__}: {without_values(exc)})", "ask the provider to re-send the file") from None
    types = {n: _kind(meta.readstat_variable_types.get(n), meta.original_variable_types.get(n) or "") for n in meta.column_names}
    drift = compare(spec, list(meta.column_names), types)
    fill = set(enforce(spec, drift, name))
    schema = string_schema(spec)
    wanted = [c.name for c in spec.columns if c.name not in fill]

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        line = 1
        for chunk, _ in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=batch_size or BATCH, usecols=wanted, output_format="polars"):
            frame = chunk
            yield pl.DataFrame(
                {
                    LINE_COLUMN: pl.int_range(line, line + frame.height, eager=True),
                    **{c.name: (_as_text(frame[c.name]) if c.name in frame.columns else pl.Series(c.name, [None] * frame.height, pl.String)) for c in spec.columns},
                },
                schema=schema,
            )
            line += frame.height

    return Reading(register_io_source(source, schema=schema), drift)


def _kind(readstat_type: str | None, sas_format: str) -> str:
    if readstat_type == "string":
        return "str"
    upper = sas_format.upper()
    if upper.startswith(("DATETIME", "E8601DT")):
        return "datetime"
    if upper.startswith(("DATE", "YYMMDD", "MMDDYY", "E8601DA")):
        return "date"
    return "float"


def _as_text(series: pl.Series) -> pl.Series:
    if series.dtype.is_float():
        # SAS stores every number as a double: whole numbers are written without a trailing '.0'.
        whole = series == series.floor()
        return pl.select(pl.when(whole).then(series.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(series.cast(pl.String))).to_series()
    if series.dtype == pl.Object:
        return pl.Series(series.name, [None if v is None else str(v) for v in series], pl.String)
    return series.cast(pl.String)
