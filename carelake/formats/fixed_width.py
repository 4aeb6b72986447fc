"""Fixed-width text: each line read as one string (streaming), fields cut by the spec's layout.

Implied decimals and signs are turned into plain decimal text here, so typing stays in coercion.
Lines of an undeclared record type or too short for the layout become format errors (quarantine).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from carelake.formats.drift import SchemaDrift
from carelake.formats.frames import FORMAT_ERROR_COLUMN, RAW_COLUMN, Reading, finish, scan_text
from carelake.names import LINE_COLUMN
from carelake.spec import FixedWidthField, FixedWidthFormat, SourceSpec

_LINE = "__line_text"


def read_fixed_width(spec: SourceSpec, path: Path, name: str) -> Reading:
    """Declared columns cut from each detail line, `_line` the physical line number."""
    fmt: FixedWidthFormat = spec.format
    lines = (
        pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None, schema={_LINE: pl.String}, encoding="utf8")
        .with_row_index(LINE_COLUMN, offset=1)
        .with_columns(pl.col(_LINE).str.strip_suffix("\r"))
        .filter(pl.col(_LINE).is_not_null() & (pl.col(_LINE) != ""))
    )
    line = pl.col(_LINE)
    needed = max(f.start - 1 + f.length for f in fmt.fields)
    problems = [pl.when(line.str.len_chars() < needed).then(pl.format(f"record is {{}} characters, the layout needs {needed}", line.str.len_chars()))]
    if fmt.record_types is not None:
        rt = fmt.record_types
        kind = line.str.slice(rt.start - 1, rt.length)
        lines = lines.filter(~kind.is_in(rt.skip))
        problems.insert(0, pl.when(~kind.is_in(rt.detail)).then(pl.lit(f"record type is not one of {rt.detail} / {rt.skip}")))
    error = pl.coalesce(problems)
    frame = lines.with_columns(
        *[_field(f, line, spec.null_values_of(spec.column(f.name))).alias(f.name) for f in fmt.fields],
        error.alias(FORMAT_ERROR_COLUMN),
        pl.when(error.is_not_null()).then(line).alias(RAW_COLUMN),
    )
    return Reading(finish(spec, frame, no_controls=not scan_text(path, None).controls), SchemaDrift(), trimmed=True)


def _field(f: FixedWidthField, line: pl.Expr, null_values: list[str]) -> pl.Expr:
    text = line.str.slice(f.start - 1, f.length).str.strip_chars()
    text = pl.when(text.is_in(null_values)).then(None).otherwise(text)
    if f.implied_decimals == 0 and f.sign == "none":
        return text
    if f.sign == "leading":
        parts = text.str.extract_groups(r"^(?<s>[+-]?)(?<d>\d+)$")
    elif f.sign == "trailing":
        parts = text.str.extract_groups(r"^(?<d>\d+)(?<s>[+-]?)$")
    else:
        parts = text.str.extract_groups(r"^(?<s>)(?<d>\d+)$")
    sign, digits = parts.struct.field("s"), parts.struct.field("d")
    d = f.implied_decimals
    if d:
        digits = digits.str.zfill(d + 1)
        number = pl.concat_str([sign, digits.str.head(-d), pl.lit("."), digits.str.tail(d)])
    else:
        number = pl.concat_str([sign, digits])
    # Text that does not match the picture stays as delivered, so typing rejects it with its raw value.
    return pl.when(digits.is_not_null()).then(number).otherwise(text)
