"""COBOL pictures (`9(7)V99`, `S9(5)V9(2)`) as the two facts a reader needs: implied decimals and sign."""

from __future__ import annotations

import re

_PART = re.compile(r"9\((\d+)\)|9+")


def _digits(text: str) -> int:
    return sum(int(m.group(1)) if m.group(1) else len(m.group(0)) for m in _PART.finditer(text))


def parse_picture(picture: str) -> tuple[int, bool]:
    """(implied decimal digits, signed) of a numeric picture; raises ValueError naming the fix."""
    text = picture.strip().upper()
    if not re.fullmatch(r"S?(9(\(\d+\))?)+(V(9(\(\d+\))?)+)?", text):
        raise ValueError(f"picture {picture!r} is not a numeric COBOL picture such as 9(7)V99 or S9(5)V9(2)")
    signed = text.startswith("S")
    _, _, fraction = text.partition("V")
    return (_digits(fraction) if fraction else 0), signed
