"""SAS `.sas7bdat` and transport `.xpt` files, read in chunks with pyreadstat.

SAS stores every number as a double. A whole number beyond 2^53 - 1 (or an inf / NaN) cannot be
told from its neighbours, so for a column not declared float it is not written as text at all:
the record becomes a format error (quarantine) naming the column, with the double as `_raw`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import polars as pl
import pyreadstat
from polars.io.plugins import register_io_source

from carelake.errors import DeliveryError, without_values
from carelake.formats.drift import compare, enforce
from carelake.formats.frames import FORMAT_ERROR_COLUMN, RAW_COLUMN, Reading, string_schema
from carelake.names import LINE_COLUMN
from carelake.spec import ColumnType, SasFormat, SourceSpec

BATCH = 100_000
MAX_EXACT_INTEGER = 2**53 - 1  # beyond it, doubles skip integers: 900000000000000001 reads as ...000


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
    schema = string_schema(spec, errors=True)
    wanted = [c.name for c in spec.columns if c.name not in fill]

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        line = 1
        for chunk, _ in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=batch_size or BATCH, usecols=wanted, output_format="polars"):
            yield _texts(spec, chunk, line).cast(schema)
            line += chunk.height

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


def _texts(spec: SourceSpec, chunk: pl.DataFrame, line: int) -> pl.DataFrame:
    """One chunk as the reader's strings, `_format_error` / `_raw` for numbers that are not exact."""
    columns, problems, inexact = [], [], []
    for column in spec.columns:
        if column.name not in chunk.columns:
            columns.append(pl.lit(None, pl.String).alias(column.name))
            continue
        value = pl.col(column.name)
        if chunk.schema[column.name].is_float() and column.type is not ColumnType.float:
            text, bad = _number_text(value)
            columns.append(text.alias(column.name))
            problems.append(pl.when(bad).then(pl.lit(
                f"{column.name}: a SAS number beyond +/-{MAX_EXACT_INTEGER} (2^53 - 1) or not finite: a double cannot hold it exactly"
            )))
            inexact.append(pl.when(bad).then(value.cast(pl.String)).alias(column.name))
        else:
            columns.append(_as_text(chunk[column.name]).alias(column.name))
    error = pl.concat_str(problems, separator="; ", ignore_nulls=True) if problems else pl.lit(None, pl.String)
    error = pl.when(error != "").then(error)
    raw = pl.when(error.is_not_null()).then(pl.struct(inexact).struct.json_encode()) if inexact else pl.lit(None, pl.String)
    return chunk.select(
        pl.int_range(line, line + chunk.height, dtype=pl.Int64).alias(LINE_COLUMN), *columns,
        error.alias(FORMAT_ERROR_COLUMN), raw.alias(RAW_COLUMN),
    )


def _number_text(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(text, not exact) of a double read for a non-float column: whole numbers without '.0'."""
    exact = value.is_finite() & (value.abs() <= MAX_EXACT_INTEGER)
    text = pl.when(exact & (value == value.floor())).then(value.cast(pl.Int64).cast(pl.String)).when(exact).then(value.cast(pl.String))
    return text, value.is_not_null() & ~exact


def _as_text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Object:
        return pl.Series(series.name, [None if v is None else str(v) for v in series], pl.String)
    # Floats for a float column: polars writes the shortest text that reads back as the same double.
    return series.cast(pl.String)
