"""`carelake profile FILE`: what is in a new file, before a feed is onboarded.

Infers the delimiter, header and encoding, then per column the type (with date formats), null
rate, distinct count, min / max and whether it looks like PHI. The report never prints a PHI
column's values: only their shape (digits -> 9, letters -> X). `draft_spec.py` turns a profile
into a source YAML.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from carelake.privacy.samples import shape_text
from carelake.spec import PhiCategory
from carelake.tools.profiling.phi_detection import PhiFinding, detect_phi

SAMPLE_ROWS = 200_000
DELIMITERS = [",", "|", "\t", ";"]
DATE_FORMATS = ["%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y"]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y%m%d%H%M%S"]
# Numbers with these name endings are codes (state, county, flags): keep them strings so that a
# later file with `Y` instead of `0` (DE-SynPUF's BENE_ESRD_IND) is not quarantined wholesale.
_CODE_SUFFIXES = ("_cd", "_code", "_ind", "_flag", "_id", "_num", "_nbr", "_no", "npi", "_zip", "_type")
_CODE_WORDS = ("icd", "dgns", "diag", "dx", "prcdr", "proc", "hcpcs", "cpt", "drg", "ndc", "npi", "zip", "postal")


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

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


@dataclass
class FileProfile:
    path: Path
    delimiter: str
    header: bool
    encoding: str
    rows: int
    sampled: bool
    columns: list[ColumnProfile]

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


def sniff(path: Path) -> tuple[str, bool, str]:
    """(delimiter, has header, encoding) from the first 64 KB."""
    raw = path.read_bytes()[: 1 << 16]
    if not raw.strip():
        raise ValueError(f"{path}: the file is empty; nothing to profile")
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        # A cut multi-byte character at the 64 KB edge is fine; anything else is not UTF-8.
        try:
            text = raw[: raw.rfind(b"\n")].decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "latin-1", raw.decode("latin-1")
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last line may be cut at the 64 KB edge

    def consistency(sep: str) -> tuple[int, int]:
        counts = [len(next(csv.reader([line], delimiter=sep))) for line in lines]
        return (counts.count(counts[0]) if counts[0] > 1 else 0, counts[0])

    delimiter = max(DELIMITERS, key=consistency)
    first = next(csv.reader([lines[0]], delimiter=delimiter))
    looks_like_data = any(_is_number(v) or _date_format([v]) for v in first if v)
    header = not looks_like_data and len(set(first)) == len(first) and all(first)
    return delimiter, header, encoding


def profile_file(path: Path) -> FileProfile:
    """Profile a delimited file (the first SAMPLE_ROWS rows; the row count is exact)."""
    delimiter, header, encoding = sniff(path)
    options = dict(separator=delimiter, has_header=header, infer_schema=False, quote_char='"',
                   encoding="utf8-lossy" if encoding == "latin-1" else "utf8", truncate_ragged_lines=False)
    rows = pl.scan_csv(path, **options).select(pl.len()).collect().item()
    frame = pl.read_csv(path, n_rows=SAMPLE_ROWS, **options)
    if not header:
        frame.columns = [f"column_{i + 1}" for i in range(frame.width)]
    frame = frame.with_columns(pl.all().str.strip_chars().replace("", None))
    columns = [_profile_column(name, frame[name]) for name in frame.columns]
    formats = [c.input_format for c in columns if c.type == "date"]
    for c in columns:
        if c.nulls == c.rows and re.search(r"(^|_)(dt|date)$", c.name.lower()):
            # An empty date column (no deaths this year) is still a date, in the file's date format.
            c.type, c.input_format = "date", formats[0] if formats else "%Y-%m-%d"
    today = dt.datetime.now(dt.UTC).date()
    for c in columns:
        if c.type == "date" and c.phi is None and c.min and c.max:
            lo, hi = dt.date.fromisoformat(c.min), dt.date.fromisoformat(c.max)
            # Decades of dates, all well in the past: what a birth date column looks like.
            if hi.year <= today.year - 1 and (hi - lo).days >= 20 * 365 and c.distinct >= 10:
                c.phi = PhiFinding(PhiCategory.birth_date, f"values (dates over {(hi - lo).days // 365} years, all past)")
    if any(c.phi and c.phi.category in (PhiCategory.member_id, PhiCategory.other) for c in columns):
        # Every date in a file about identifiable people (service, admission, paid) is PHI under HIPAA.
        for c in columns:
            if c.type in ("date", "datetime") and c.phi is None:
                c.phi = PhiFinding(PhiCategory.date, "a date in a file with person identifiers")
    return FileProfile(path, delimiter, header, encoding, rows, rows > frame.height, columns)


def _profile_column(name: str, values: pl.Series) -> ColumnProfile:
    present = values.drop_nulls()
    kind, fmt, precision, scale = _infer_type(name, present)
    typed = _typed(present, kind, fmt, scale)
    phi = detect_phi(name, present, kind in ("date", "datetime"))
    lo = hi = None
    if not present.is_empty():
        lo, hi = (str(x) for x in (typed.min(), typed.max()))
    return ColumnProfile(
        name=name, type=kind, input_format=fmt, rows=values.len(), nulls=values.null_count(),
        distinct=present.n_unique(), min=lo, max=hi, phi=phi, precision=precision, scale=scale,
        max_length=int(present.str.len_chars().max() or 0), values=present,
    )


def _infer_type(name: str, present: pl.Series) -> tuple[str, str | None, int | None, int | None]:
    if present.is_empty():
        return "string", None, None, None
    sample = present.head(5000).to_list()
    if (fmt := _date_format(sample)) is not None:
        return "date", fmt, None, None
    for fmt in DATETIME_FORMATS:
        if present.str.to_datetime(fmt, strict=False, exact=True).null_count() == 0:
            return "datetime", fmt, None, None
    lower = name.lower()
    code_like = lower.endswith(_CODE_SUFFIXES) or any(w in lower for w in _CODE_WORDS) or present.str.contains(r"^0[0-9]").any()
    if present.str.contains(r"^[+-]?[0-9]{1,15}$").all() and not code_like:
        return "integer", None, None, None
    if present.str.contains(r"^[+-]?[0-9]{0,15}\.[0-9]{1,6}$").all() and not code_like:
        parts = present.str.split(".")
        digits = int(parts.list.get(0).str.len_chars().max() or 1)
        scale = max(2, int(parts.list.get(1).str.len_chars().max() or 0))
        return "decimal", None, min(38, digits + scale + 2), scale
    return "string", None, None, None


def _date_format(sample: list[str]) -> str | None:
    """The first date format every value parses with, to a plausible year (1850-2100)."""
    for fmt in DATE_FORMATS:
        try:
            parsed = [dt.datetime.strptime(v, fmt) for v in sample]
        except ValueError:
            continue
        if parsed and all(1850 <= d.year <= 2100 for d in parsed):
            return fmt
    return None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _typed(present: pl.Series, kind: str, fmt: str | None, scale: int | None) -> pl.Series:
    if kind == "date":
        return present.str.to_date(fmt)
    if kind == "datetime":
        return present.str.to_datetime(fmt)
    if kind == "integer":
        return present.cast(pl.Int64)
    if kind == "decimal":
        return present.cast(pl.Float64)
    return present


def format_report(profile: FileProfile) -> str:
    """A readable report; PHI columns show the shape of their min / max, never the values."""
    delim = {"\t": "TAB"}.get(profile.delimiter, profile.delimiter)
    lines = [
        f"{profile.path.name}: {profile.rows:,} rows, {len(profile.columns)} columns, delimiter {delim!r}, "
        f"{'header' if profile.header else 'no header'}, {profile.encoding}"
        + (f" (profiled the first {SAMPLE_ROWS:,} rows)" if profile.sampled else ""),
        "",
        f"{'column':32} {'type':22} {'nulls':>7} {'distinct':>9}  {'min':>14}  {'max':>14}  phi",
    ]
    for c in profile.columns:
        kind = c.type + (f" {c.input_format}" if c.input_format else "")
        lo, hi = c.min or "", c.max or ""
        if c.phi:
            lo, hi = shape_text(lo), shape_text(hi)
        phi = f"{c.phi.category.value} (by {c.phi.evidence}) -> {c.phi.masking.value}" if c.phi else ""
        lines.append(f"{c.name[:32]:32} {kind[:22]:22} {c.null_rate:7.1%} {c.distinct:9,}  {lo[:14]:>14}  {hi[:14]:>14}  {phi}")
    risks = profile.risks
    lines += ["", "compliance risks:" if risks else "compliance risks: none found by name or value"]
    lines += [f"  - {r}" for r in risks]
    return "\n".join(lines)
