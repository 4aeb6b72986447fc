"""SAS transport (`.xpt`): string columns, the inverse of `carelake/formats/sas.py`, which accepts a
string column for every declared type and reports no drift for it. An empty value is written as a
blank, SAS's missing character value."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pyreadstat

from carelake.spec import SasFormat, SourceSpec
from carelake.tools.simulation.writers.registry import register

XPORT_V5_NAME = 8  # SAS transport version 5 allows variable names of at most 8 characters


@register("sas")
def write_sas(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """A SAS transport file (version 5 when every name fits in 8 characters, else version 8)."""
    fmt: SasFormat = spec.format
    if fmt.variant == "sas7bdat" or (fmt.variant == "auto" and ".xpt" not in spec.delivery.file_pattern.lower()):
        # variant auto reads a file as .sas7bdat unless its name ends in .xpt
        raise NotImplementedError(
            f"{spec.key}: pyreadstat cannot write .sas7bdat; declare format.variant: xpt (or auto with a .xpt file pattern)"
        )
    version = 5 if all(len(c) <= XPORT_V5_NAME for c in frame.columns) else 8
    with tempfile.TemporaryDirectory(prefix="carelake-xpt-") as tmp:
        path = Path(tmp) / "delivery.xpt"
        # pyreadstat writes only to a path; the table name must be a SAS name of at most 8 characters.
        pyreadstat.write_xport(frame.with_columns(pl.all().fill_null("")), str(path), table_name="DELIVERY",
                               file_format_version=version)
        return path.read_bytes()
