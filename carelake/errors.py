"""Errors a delivery can cause; each names the file, the line and the fix, and never a data value."""

from __future__ import annotations

from pathlib import Path


class DeliveryError(Exception):
    """A delivered file cannot be ingested as a whole. The landed file is kept; the partition fails."""

    def __init__(self, file: Path | str, line: int | None, problem: str, fix: str):
        self.file, self.line, self.problem, self.fix = str(file), line, problem, fix
        where = f"{self.file}, line {line}" if line is not None else self.file
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class MissingDeliveryError(Exception):
    """No file was delivered for a partition's window."""
