"""Fixed-width writer: each value placed at its field's start and length, numbers as COBOL pictures.

The inverse of `formats/fixed_width.py`: text is left-aligned and space-padded; a field with implied
decimals or a sign gets its digits zero-filled without the decimal point and the sign where the
picture says. With record types, a header record (the first `skip` type) comes first, a trailer
record (the last `skip` type, carrying the detail count) last, and every detail line carries the
first `detail` type.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import polars as pl

from carelake.spec import FixedWidthField, FixedWidthFormat, SourceSpec
from carelake.tools.simulation.writers.registry import register


def _first_line(spec: SourceSpec) -> int:
    rt = spec.format.record_types
    return 2 if rt is not None and rt.skip else 1


@register("fixed_width", first_line=_first_line)
def write_fixed_width(spec: SourceSpec, frame: pl.DataFrame, first_chunk: bool = True) -> bytes:
    """Fixed-width lines in the spec's layout and encoding, with header / trailer records if declared."""
    fmt: FixedWidthFormat = spec.format
    rt = fmt.record_types
    width = max(f.start - 1 + f.length for f in fmt.fields)
    if rt is not None:
        width = max(width, rt.start - 1 + rt.length)
    columns = [frame[f.name].to_list() if f.name in frame.columns else [None] * frame.height for f in fmt.fields]
    lines = []
    for values in zip(*columns, strict=True) if columns else []:
        line = [" "] * width
        for f, value in zip(fmt.fields, values, strict=True):
            _place(line, f.start, f.length, _field_text(f, value))
        if rt is not None:
            _place(line, rt.start, rt.length, rt.detail[0])
        lines.append("".join(line))
    if rt is not None and rt.skip:
        if first_chunk:
            lines.insert(0, _control(rt.start, rt.length, width, rt.skip[0], "HEADER"))
        lines.append(_control(rt.start, rt.length, width, rt.skip[-1], f"{frame.height:09d}"))
    text = "".join(f"{line}\n" for line in lines)
    return text.encode(fmt.encoding, errors="replace")


def _place(line: list[str], start: int, length: int, text: str) -> None:
    # A value longer than its field is cut, as a provider's fixed layout would cut it.
    line[start - 1 : start - 1 + length] = list(text[:length].ljust(length))


def _control(start: int, length: int, width: int, kind: str, body: str) -> str:
    line = [" "] * width
    _place(line, start, length, kind)
    rest = [i for i in range(width) if not start - 1 <= i < start - 1 + length]
    for i, char in zip(rest, body, strict=False):
        line[i] = char
    return "".join(line)


def _field_text(f: FixedWidthField, value: str | None) -> str:
    """The field's text: as is, or the picture's digits (implied decimals, sign) for numeric fields."""
    if value is None or value == "":
        return ""
    if f.implied_decimals == 0 and f.sign == "none":
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value  # not a number (an injected fault): delivered as is, so typing rejects it
    if not number.is_finite() or (number < 0 and f.sign == "none"):
        return value  # the picture cannot hold it; as delivered text the reader passes it to typing unchanged
    digits = str(int(abs(number).scaleb(f.implied_decimals).to_integral_value()))
    if f.sign == "none":
        return digits.zfill(f.length)
    sign = "-" if number < 0 else "+"
    digits = digits.zfill(f.length - 1)
    return sign + digits if f.sign == "leading" else digits + sign
