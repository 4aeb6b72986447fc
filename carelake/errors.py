"""Errors a delivery can cause; each names the file, the line and the fix, and never a data value."""

from __future__ import annotations

import re
from pathlib import Path


class DeliveryError(Exception):
    """A delivered file cannot be ingested as a whole. The landed file is kept; the partition fails."""

    def __init__(self, file: Path | str, line: int | None, problem: str, fix: str):
        self.file, self.line, self.problem, self.fix = str(file), line, problem, fix
        where = f"{self.file}, line {line}" if line is not None else self.file
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class MissingDeliveryError(Exception):
    """No file was delivered for a partition's window."""


# Engine error messages without row values: any error text from a parser or storage engine can quote a
# row (polars quotes a field in backticks, delta-rs previews rows, lxml and zlib quote names and bytes),
# so before it reaches a log, an exception message, metadata or an alert it is reduced to its kind and
# position: quoted spans of every quoting style are cut out, and only the first line is kept.
# Over-redaction is the safe failure: an apostrophe in an English message may cut a few words.
WITHHELD = "…"
# A quoted span in any of the quotings engines use; an opening quote without its closing one (the
# value held a newline, or was cut) runs to the end of the text.
_QUOTED = re.compile(r"`[^`]*(?:`|\Z)|\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z)|«[^»]*(?:»|\Z)|“[^”]*(?:”|\Z)", re.DOTALL)
_PREVIEW = re.compile(r"Preview of invalid data:.*", re.DOTALL)  # delta-rs shows the rows that failed


def without_values(error: BaseException | str, limit: int = 160) -> str:
    """The first line of an engine's error message with everything it quotes withheld, at most `limit` characters."""
    text = _QUOTED.sub(WITHHELD, _PREVIEW.sub("(rows withheld)", str(error))).strip()
    first = text.splitlines()[0].strip() if text else ""
    name = type(error).__name__ if isinstance(error, BaseException) else "error"
    return (first or name)[:limit]
