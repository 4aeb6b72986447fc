"""Fault injection: what goes wrong with real deliveries, each kind with its own rate, all reported.

Row faults the raw layer catches today (a malformed date, a missing required value, a wrong type)
are injected at most once per row, so `quarantine rows == injected rows`. Row faults that need
quality rules (duplicate keys, orphan claims, invalid NPIs) and file faults are reported too,
with `caught_by` saying which part of the platform is expected to notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import polars as pl

from carelake.spec import ColumnType, SourceSpec


class Fault(StrEnum):
    # row level, caught by raw typing (quarantine)
    malformed_date = "malformed_date"
    null_required = "null_required"
    wrong_type = "wrong_type"
    # row level, reported only (quality rules are a later issue)
    duplicate_key = "duplicate_key"
    orphan_claim = "orphan_claim"
    invalid_npi = "invalid_npi"
    # file level
    missing_column = "missing_column"
    extra_column = "extra_column"
    reordered_columns = "reordered_columns"
    encoding_error = "encoding_error"
    truncated = "truncated"
    empty = "empty"
    late = "late"
    redelivery = "redelivery"


QUARANTINED = (Fault.malformed_date, Fault.null_required, Fault.wrong_type)
REPORTED_ONLY = (Fault.duplicate_key, Fault.orphan_claim, Fault.invalid_npi)
FAILS_PARTITION = (Fault.missing_column, Fault.encoding_error, Fault.truncated, Fault.empty)
TOLERATED = (Fault.extra_column, Fault.reordered_columns)  # read by name: the platform handles them correctly
CAUGHT_BY = {
    **{f: "raw: quarantine" for f in QUARANTINED},
    **{f: "not yet (needs quality rules)" for f in REPORTED_ONLY},
    **{f: "raw: the partition fails with a DeliveryError" for f in FAILS_PARTITION},
    **{f: "raw: read by column name, values correct" for f in TOLERATED},
    Fault.late: "arrival sensor / landed: late_files",
    Fault.redelivery: "landed: a new version",
}
BAD_DATE = "2026-13-45"
BAD_VALUE = "#VALUE!"
INVALID_BYTE = b"\xff"


@dataclass(frozen=True)
class Injected:
    """One injected fault: which file, which data line (1 = first line of the file), which column."""

    fault: Fault
    file: str
    line: int | None = None
    column: str | None = None


@dataclass(frozen=True)
class FaultRates:
    """Probability of each fault: per row for row faults, per delivery for file faults."""

    rates: dict[Fault, float] = field(default_factory=dict)

    @classmethod
    def quarantinable(cls, rate: float) -> FaultRates:
        """Row faults the raw layer catches, `rate` of rows in total (the old `fault_rate`)."""
        return cls({f: rate / len(QUARANTINED) for f in QUARANTINED})

    def rate(self, fault: Fault) -> float:
        return self.rates.get(fault, 0.0)


def inject_rows(spec: SourceSpec, frame: pl.DataFrame, rates: FaultRates, rng: np.random.Generator, file: str,
                first_line: int, member_pool: int) -> tuple[pl.DataFrame, list[Injected]]:
    """Row faults on a frame of strings; returns the new frame and what was injected where."""
    rows = frame.rows()
    names = frame.columns
    index = {n: i for i, n in enumerate(names)}
    injected: list[Injected] = []
    key = [index[k] for k in spec.primary_key]
    member = next((c.name for c in spec.columns if c.semantic == "member_id"), None)
    npi = next((c.name for c in spec.columns if c.semantic == "npi"), None)
    is_snapshot = member is not None and member in spec.primary_key
    dates = [c.name for c in spec.columns if c.type in (ColumnType.date, ColumnType.datetime)]
    typed = [c.name for c in spec.columns if c.type not in (ColumnType.string, ColumnType.date, ColumnType.datetime)]
    # A required column's missing value is written as the first text it reads as null.
    null_text = {c.name: spec.null_values_of(c)[0] for c in spec.columns if not c.nullable and spec.null_values_of(c)}
    required = list(null_text)
    out = [list(r) for r in rows]
    previous_key: list[str] = []
    for i, row in enumerate(out):
        line = first_line + i
        # Reported-only faults first, before caught faults, so a copied key never carries a caught fault.
        if key and i and rng.random() < rates.rate(Fault.duplicate_key):
            for k, value in zip(key, previous_key, strict=True):
                row[k] = value
            injected.append(Injected(Fault.duplicate_key, file, line))
        previous_key = [row[k] for k in key]
        if member and not is_snapshot and rng.random() < rates.rate(Fault.orphan_claim):
            row[index[member]] = f"{spec.provider[:3].upper()}{member_pool + int(rng.integers(10**6)):08d}"
            injected.append(Injected(Fault.orphan_claim, file, line, member))
        if npi and rng.random() < rates.rate(Fault.invalid_npi) and row[index[npi]]:
            value = row[index[npi]]
            row[index[npi]] = value[:-1] + str((int(value[-1]) + 1) % 10)
            injected.append(Injected(Fault.invalid_npi, file, line, npi))
        for fault, columns, bad in (
            (Fault.malformed_date, dates, BAD_DATE),
            (Fault.null_required, required, null_text),
            (Fault.wrong_type, typed, BAD_VALUE),
        ):
            if columns and rng.random() < rates.rate(fault):
                column = columns[int(rng.integers(len(columns)))]
                row[index[column]] = bad[column] if isinstance(bad, dict) else bad
                injected.append(Injected(fault, file, line, column))
                break  # one quarantinable fault per row: quarantine rows == injected rows
    return pl.DataFrame(out, schema=names, orient="row"), injected


def reshape_columns(spec: SourceSpec, frame: pl.DataFrame, rates: FaultRates, rng: np.random.Generator,
                    file: str) -> tuple[pl.DataFrame, list[Injected]]:
    """File faults on the column layout: a missing, an extra or a reordered column."""
    injected = []
    # Only delimited files with a header are read by column name; other formats have no `header`.
    header = getattr(spec.format, "header", False)
    if header and rng.random() < rates.rate(Fault.missing_column):
        column = frame.columns[int(rng.integers(frame.width))]
        frame = frame.drop(column)
        injected.append(Injected(Fault.missing_column, file, 1, column))
    if rng.random() < rates.rate(Fault.extra_column) and header:
        frame = frame.with_columns(pl.lit("extra").alias("UNDECLARED_EXTRA"))
        injected.append(Injected(Fault.extra_column, file, 1, "UNDECLARED_EXTRA"))
    if header and frame.width > 1 and rng.random() < rates.rate(Fault.reordered_columns):
        frame = frame.select(list(reversed(frame.columns)))
        injected.append(Injected(Fault.reordered_columns, file, 1))
    return frame, injected


def corrupt_bytes(data: bytes, rates: FaultRates, rng: np.random.Generator, file: str, header: bool) -> tuple[bytes, list[Injected]]:
    """File faults on the bytes: empty, an invalid UTF-8 byte, a cut in the middle of a record."""
    if rng.random() < rates.rate(Fault.empty):
        return b"", [Injected(Fault.empty, file)]
    injected = []
    lines = data.split(b"\n")
    first = 1 if header else 0
    if len(lines) > first + 1 and rng.random() < rates.rate(Fault.encoding_error):
        at = int(rng.integers(first, len(lines) - 1))
        lines[at] = INVALID_BYTE + lines[at]
        injected.append(Injected(Fault.encoding_error, file, at + 1))
    if len(lines) > first + 1 and rng.random() < rates.rate(Fault.truncated):
        at = int(rng.integers(first, len(lines) - 1))
        # Cut before the line's first delimiter-ish midpoint: the last record loses fields.
        lines = [*lines[:at], lines[at][: max(1, len(lines[at]) // 3)]]
        injected.append(Injected(Fault.truncated, file, at + 1))
        return b"\n".join(lines), injected
    return b"\n".join(lines), injected
