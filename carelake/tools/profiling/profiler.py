"""`carelake profile FILE`: what is in a new file, before a feed is onboarded.

Finds the layout (delimiter and header, or fixed-width fields: `layout.py`) and encoding, then per
column the type (with date formats, zoned timestamps: `inference.py`), null rate, distinct count,
min / max and whether it looks like PHI, with a confidence (`phi_detection.py`). `report.py` prints
it (values only as shapes); `draft_spec.py` turns it into a source YAML.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from carelake.errors import without_values
from carelake.spec import Masking, PhiCategory
from carelake.tools.profiling.inference import Inferred, infer_type, typed
from carelake.tools.profiling.layout import Layout, sniff
from carelake.tools.profiling.phi_detection import PhiFinding, detect_phi

SAMPLE_ROWS = 200_000
PHI_SAMPLE = 20_000  # values per column the PHI shapes are judged on: types need every sampled row, shapes do not
_LINE = "__line"
# Columns that identify the person a row is about: every date in such a file is PHI under HIPAA.
_PERSON = {PhiCategory.member_id, PhiCategory.mrn, PhiCategory.account, PhiCategory.other, PhiCategory.name,
           PhiCategory.ssn, PhiCategory.email, PhiCategory.phone}


@dataclass
class ColumnProfile:
    name: str
    type: str  # a spec ColumnType value
    input_format: str | None
    rows: int
    nulls: int
    distinct: int
    min: str | None
    max: str | None
    phi: PhiFinding | None
    precision: int | None = None
    scale: int | None = None
    max_length: int = 0
    values: pl.Series | None = field(default=None, repr=False)  # the sample, for rule suggestions
    phi_confidence: float = 0.85  # confidence in the verdict, PHI or not
    doubt: str | None = None  # why a name match was not taken, for the reviewer
    note: str | None = None  # about the type (zoned timestamps)
    zoned: bool = False
    start: int | None = None  # fixed width: 1-based start and length
    length: int | None = None

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


@dataclass
class FileProfile:
    path: Path
    layout: Layout
    rows: int
    sampled: bool
    columns: list[ColumnProfile]

    @property
    def delimiter(self) -> str | None:
        return self.layout.delimiter

    @property
    def header(self) -> bool:
        return self.layout.header

    @property
    def encoding(self) -> str:
        return self.layout.encoding

    @property
    def risks(self) -> list[str]:
        """Compliance risks, one readable line each."""
        out = []
        phi = [c for c in self.columns if c.phi]
        direct = [c.name for c in phi if c.phi.category.value in ("name", "ssn", "email", "phone", "address")]
        if direct:
            out.append(f"direct identifiers {direct}: the feed must be handled as PHI (redacted in transformed)")
        ids = [c.name for c in phi if c.phi.category.value in ("member_id", "mrn", "account", "other")]
        if ids:
            out.append(f"person identifiers {ids}: hash them in transformed; they link rows to a person")
        births = [c.name for c in phi if c.phi.category.value == "birth_date"]
        if births:
            out.append(f"full dates of birth {births}: HIPAA safe harbor allows the year only")
        dates = [c.name for c in phi if c.phi.category.value == "date"]
        if dates:
            out.append(f"dates tied to a person {dates}: PHI under HIPAA (year only when de-identifying)")
        zips = [c.name for c in phi if c.phi.category.value == "zip"]
        if zips:
            out.append(f"ZIP codes {zips}: keep 3 digits at most when de-identifying")
        return out


def profile_file(path: Path) -> FileProfile:
    """Profile a delimited or fixed-width file (the first SAMPLE_ROWS rows; the row count is exact)."""
    layout = sniff(path)
    try:
        frame, rows = _read_fixed_width(path, layout) if layout.kind == "fixed_width" else _read_csv(path, layout)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"{path}: cannot be read as {layout.kind.replace('_', '-')}: {without_values(exc)}") from exc
    frame = frame.with_columns(pl.all().str.strip_chars().replace("", None))
    columns = [_profile_column(name, frame[name]) for name in frame.columns]
    for c, (start, length) in zip(columns, layout.fields, strict=False):
        c.start, c.length = start, length
    formats = [c.input_format for c in columns if c.type == "date"]
    for c in columns:
        if c.nulls == c.rows and re.search(r"(^|_)(dt|date)$|date$", c.name.lower()):
            # An empty date column (no deaths this year) is still a date, in the file's date format.
            c.type, c.input_format = "date", formats[0] if formats else "%Y-%m-%d"
    for c in columns:
        verdict = detect_phi(c.name, c.values.head(PHI_SAMPLE), "datetime" if c.zoned else c.type)
        c.phi, c.phi_confidence, c.doubt = verdict.finding, verdict.confidence, verdict.doubt
    _person_dates(columns)
    for c in columns:
        if c.phi and c.type == "string" and c.phi.category in (PhiCategory.date, PhiCategory.birth_date):
            # Timestamps kept as text: year_only cannot read them; their first 4 characters are the year.
            masking = dict(masking_override=Masking.truncate, keep=4) if c.phi.category is PhiCategory.date else dict(masking_override=Masking.redact)
            c.phi = replace(c.phi, **masking)
    return FileProfile(path, layout, rows, rows > frame.height, columns)


def _person_dates(columns: list[ColumnProfile]) -> None:
    """Birth dates by their values, and every other date of a file about identifiable people."""
    today = dt.datetime.now(dt.UTC).date()
    for c in columns:
        if c.type == "date" and c.phi is None and c.min and c.max:
            lo, hi = dt.date.fromisoformat(c.min), dt.date.fromisoformat(c.max)
            # Decades of dates, all well in the past: what a birth date column looks like.
            if hi.year <= today.year - 1 and (hi - lo).days >= 20 * 365 and c.distinct >= 10:
                c.phi = PhiFinding(PhiCategory.birth_date, f"values (dates over {(hi - lo).days // 365} years, all past)", 0.7)
                c.phi_confidence = 0.7
    if any(c.phi and c.phi.category in _PERSON for c in columns):
        for c in columns:
            if (c.type in ("date", "datetime") or c.zoned) and c.phi is None:
                c.phi = PhiFinding(PhiCategory.date, "a date in a file with person identifiers", 0.8)
                c.phi_confidence = 0.8


def _read_csv(path: Path, layout: Layout) -> tuple[pl.DataFrame, int]:
    options = dict(separator=layout.delimiter, has_header=layout.header, infer_schema=False, quote_char='"',
                   encoding="utf8-lossy" if layout.encoding == "latin-1" else "utf8", truncate_ragged_lines=False)
    rows = pl.scan_csv(path, **options).select(pl.len()).collect().item()
    frame = pl.read_csv(path, n_rows=SAMPLE_ROWS, **options)
    if not layout.header:
        frame.columns = [f"column_{i + 1}" for i in range(frame.width)]
    return frame, rows


def _read_fixed_width(path: Path, layout: Layout) -> tuple[pl.DataFrame, int]:
    """Every non-empty line is a record (the reader's rule: no header), cut at the drafted fields."""
    lines = (
        pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None, schema={_LINE: pl.String},
                    encoding="utf8-lossy" if layout.encoding == "latin-1" else "utf8")
        .with_columns(pl.col(_LINE).str.strip_suffix("\r"))
        .filter(pl.col(_LINE).is_not_null() & (pl.col(_LINE) != ""))
    )
    if (types := layout.record_types) is not None:
        lines = lines.filter(~pl.col(_LINE).str.slice(types["start"] - 1, types["length"]).is_in(types["skip"]))
    rows = lines.select(pl.len()).collect().item()
    line = pl.col(_LINE)
    fields = [line.str.slice(start - 1, length).alias(f"column_{i + 1}") for i, (start, length) in enumerate(layout.fields)]
    return lines.head(SAMPLE_ROWS).select(fields).collect(), rows


def _profile_column(name: str, values: pl.Series) -> ColumnProfile:
    present = values.drop_nulls()
    kind: Inferred = infer_type(name, present)
    lo = hi = None
    if not present.is_empty():
        values_typed = typed(present, kind)
        lo, hi = (str(x) for x in (values_typed.min(), values_typed.max()))
    return ColumnProfile(
        name=name, type=kind.type, input_format=kind.input_format, rows=values.len(), nulls=values.null_count(),
        distinct=present.n_unique(), min=lo, max=hi, phi=None, precision=kind.precision, scale=kind.scale,
        max_length=int(present.str.len_chars().max() or 0), values=present, note=kind.note, zoned=kind.zoned,
    )
