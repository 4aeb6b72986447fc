"""Delivery file patterns: `members_{date:%Y%m%d}*.csv` -> which files belong to which date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{date:([^}]+)\}")
_DIRECTIVES = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%j": r"\d{3}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%b": r"[A-Za-z]{3}",
}


@dataclass(frozen=True)
class FilePattern:
    source: str
    regex: re.Pattern[str]
    date_format: str | None

    def match(self, file_name: str) -> bool:
        return self.regex.fullmatch(file_name) is not None

    def date_of(self, file_name: str) -> dt.date | None:
        """The date a delivered file is for, or None if the name does not match or has no date."""
        m = self.regex.fullmatch(file_name)
        if m is None or self.date_format is None:
            return None
        try:
            return dt.datetime.strptime(m.group("date"), self.date_format).date()
        except ValueError:
            return None

    def render(self, day: dt.date, suffix: str = "") -> str:
        """The file name a provider would deliver for `day` (wildcards filled with `suffix`)."""
        name = _PLACEHOLDER.sub(lambda m: day.strftime(m.group(1)), self.source)
        return name.replace("*", suffix)


@lru_cache(maxsize=None)
def compile_pattern(pattern: str) -> FilePattern:
    """Compile a delivery file pattern; raises ValueError with the allowed directives on a mistake."""
    placeholders = _PLACEHOLDER.findall(pattern)
    if len(placeholders) > 1:
        raise ValueError(f"file_pattern {pattern!r} has {len(placeholders)} date placeholders; use one")
    parts, pos, date_format = [], 0, None
    for m in _PLACEHOLDER.finditer(pattern):
        parts.append(_literal(pattern[pos : m.start()]))
        date_format = m.group(1)
        parts.append(f"(?P<date>{_date_regex(date_format, pattern)})")
        pos = m.end()
    parts.append(_literal(pattern[pos:]))
    if "{" in _PLACEHOLDER.sub("", pattern) or "}" in _PLACEHOLDER.sub("", pattern):
        raise ValueError(f"file_pattern {pattern!r}: placeholders are written {{date:%Y%m%d}}")
    return FilePattern(pattern, re.compile("".join(parts)), date_format)


def _literal(text: str) -> str:
    return ".*".join(re.escape(piece) for piece in text.split("*"))


def _date_regex(date_format: str, pattern: str) -> str:
    out, i = [], 0
    while i < len(date_format):
        if date_format[i] == "%":
            directive = date_format[i : i + 2]
            if directive not in _DIRECTIVES:
                raise ValueError(
                    f"file_pattern {pattern!r}: date directive {directive!r} is not one of {sorted(_DIRECTIVES)}"
                )
            out.append(_DIRECTIVES[directive])
            i += 2
        else:
            out.append(re.escape(date_format[i]))
            i += 1
    return "".join(out)
