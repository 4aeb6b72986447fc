"""Column types from text: numbers, codes, dates and their formats, naive and zoned timestamps.

Every inferred type is one the engine reads back without quarantining the profiled values:
formats are drafted only if every present value parses with them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from carelake.spec.columns import date_format_regex

DATE_FORMATS = ["%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y"]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y%m%d%H%M%S",
                    "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
# ISO 8601 with a zone: `2019-02-17T05:07:38Z`, `2019-02-17 05:07:38.250+01:00`.
ZONED_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})$"
# Numbers with these name endings are codes (state, county, flags): keep them strings so that a
# later file with `Y` instead of `0` (DE-SynPUF's BENE_ESRD_IND) is not quarantined wholesale.
_CODE_SUFFIXES = ("_cd", "_code", "_ind", "_flag", "_id", "_num", "_nbr", "_no", "npi", "_zip", "_type")
_CODE_WORDS = ("icd", "dgns", "diag", "dx", "prcdr", "proc", "hcpcs", "cpt", "drg", "ndc", "npi", "zip", "postal",
               "fips", "county")


@dataclass(frozen=True)
class Inferred:
    type: str  # a spec ColumnType value
    input_format: str | None = None
    precision: int | None = None
    scale: int | None = None
    zoned: bool = False  # ISO 8601 timestamps with `Z` or an offset
    note: str | None = None  # what a reviewer should know about the choice


def zoned_datetime(present: pl.Series) -> Inferred:
    """The draft of ISO 8601 timestamps with `Z` or an offset: a plain `datetime` column, which reads ISO 8601
    with a zone by default and stores the instant as UTC (README "Column types")."""
    return Inferred("datetime", zoned=True, note="ISO 8601 with a zone (Z or an offset); stored as UTC")


def infer_type(name: str, present: pl.Series) -> Inferred:
    """The narrowest spec type every present (non-null, trimmed) value reads as."""
    if present.is_empty():
        return Inferred("string")
    sample = present.head(5000).to_list()
    if (fmt := date_format(sample)) is not None and _all_parse(present, fmt, date=True):
        return Inferred("date", fmt)
    if present.str.contains(ZONED_ISO).all():
        return zoned_datetime(present)
    for fmt in DATETIME_FORMATS:
        if _all_parse(present, fmt, date=False):
            return Inferred("datetime", fmt)
    lower = re.sub(r"_?[0-9]+$", "", name.lower())  # TAX_NUM_1 is a TAX_NUM
    code_like = lower.endswith(_CODE_SUFFIXES) or any(w in lower for w in _CODE_WORDS) or present.str.contains(r"^0[0-9]").any()
    if present.str.contains(r"^[+-]?[0-9]{1,15}$").all() and not code_like:
        return Inferred("integer")
    if present.str.contains(r"^[+-]?[0-9]{0,15}\.[0-9]{1,6}$").all() and not code_like:
        parts = present.str.split(".")
        digits = int(parts.list.get(0).str.strip_chars("+-").str.len_chars().max() or 1)
        scale = max(2, int(parts.list.get(1).str.len_chars().max() or 0))
        return Inferred("decimal", None, min(38, digits + scale + 2), scale)
    if present.str.contains(r"^[+-]?[0-9]{0,15}\.[0-9]+$").all() and not code_like:
        return Inferred("float")  # more than 6 decimals (coordinates): a float, not a decimal
    return Inferred("string")


def _all_parse(present: pl.Series, fmt: str, date: bool) -> bool:
    """Every value matches the format exactly (the engine's own exact-width check) and parses."""
    exact = present.str.contains(date_format_regex(fmt)).all()
    if not exact:
        return False
    parsed = present.str.to_date(fmt, strict=False, exact=True) if date else present.str.to_datetime(fmt, strict=False, exact=True)
    return parsed.null_count() == 0


def date_format(sample: list[str]) -> str | None:
    """The first date format every value parses with, to a plausible year (1850-2100)."""
    for fmt in DATE_FORMATS:
        try:
            parsed = [dt.datetime.strptime(v, fmt) for v in sample]
        except ValueError:
            continue
        if parsed and all(1850 <= d.year <= 2100 for d in parsed):
            return fmt
    return None


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def typed(present: pl.Series, kind: Inferred) -> pl.Series:
    """The values in their inferred type (for min / max)."""
    if kind.type == "date":
        return present.str.to_date(kind.input_format)
    if kind.type == "datetime":
        return present.str.to_datetime(kind.input_format)
    if kind.type == "integer":
        return present.cast(pl.Int64)
    if kind.type in ("decimal", "float"):
        return present.cast(pl.Float64)
    return present
