"""A draft source YAML from a file profile: columns, types, PHI annotations and suggested checks.

The draft is meant to be reviewed in a pull request, and `carelake validate` accepts it as is.
A rule is suggested only where the profiled values already pass it (so the first delivery is not
flagged by construction); library rules start as `warn` so a reviewer decides what blocks.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import yaml

from carelake.quality.healthcare import LIBRARY
from carelake.spec import Column, Masking, SourceSpec
from carelake.tools.profiling.phi_detection import name_tokens
from carelake.tools.profiling.profiler import ColumnProfile, FileProfile

PASS_SHARE = 0.9
# Name hints -> library rule, checked against the values before being suggested.
_RULE_HINTS = [
    ("npi", r"npi"),
    ("icd10_cm", r"icd_?10|(^|_)(dx|diag|diagnosis)(_|\d|$)"),
    ("hcpcs", r"hcpcs|cpt|(^|_)proc(_|$)"),
    ("ndc", r"ndc"),
    ("us_state", r"state"),
    ("zip", r"zip|postal"),
]
_DATE_PAIRS = [("from", "thru"), ("from", "to"), ("admsn", "dschrg"), ("admission", "discharge"), ("start", "end")]
# Cadence from a date in the file name: (regex, strftime, cadence), most specific first.
_NAME_DATES = [
    (r"(?<!\d)((?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)", "%Y%m%d", "daily"),
    (r"(?<!\d)((?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))(?!\d)", "%Y-%m-%d", "daily"),
    (r"(?<!\d)((?:19|20)\d{2}(?:0[1-9]|1[0-2]))(?!\d)", "%Y%m", "monthly"),
    (r"(?<!\d)((?:19|20)\d{2})(?!\d)", "%Y", "yearly"),
]


def slug(text: str) -> str:
    """A spec identifier (`^[a-z][a-z0-9_]*$`) from a file stem."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return out if re.match(r"^[a-z]", out) else f"t_{out}"


def _delivery(file_name: str) -> tuple[str, str, dt.date]:
    """(cadence, file_pattern, start_date): a single date in the name becomes the pattern's placeholder."""
    for regex, fmt, cadence in _NAME_DATES:
        found = list(re.finditer(regex, file_name))
        if len(found) == 1:
            m = found[0]
            start = dt.datetime.strptime(m.group(1), fmt).date()
            pattern = file_name[: m.start(1)] + "{date:" + fmt + "}" + file_name[m.end(1) :]
            return cadence, pattern.replace("*", ""), start
        if len(found) > 1:
            break  # several dates (2008_to_2010): a historical drop, not a cadence
    return "adhoc", file_name, dt.datetime.now(dt.UTC).date().replace(day=1)


def _passes(rule: str, values: pl.Series) -> bool:
    if values.is_empty():
        return False
    share = pl.DataFrame({"v": values}).select(LIBRARY[rule](pl.col("v")).fill_null(False).mean()).item()
    return share is not None and share >= PASS_SHARE


def suggest_validations(profile: FileProfile) -> list[dict]:
    """Rules the profiled values pass: library rules by column name, date order, small code sets."""
    out: list[dict] = []
    dates = {c.name: c for c in profile.columns if c.type in ("date", "datetime")}
    for c in profile.columns:
        tokens = name_tokens(c.name)
        if c.type == "string" and c.values is not None and "icd9" not in tokens:
            for rule, hint in _RULE_HINTS:
                if re.search(hint, tokens) and _passes(rule, c.values):
                    out.append({"rule": rule, "column": c.name, "severity": "warn"})
                    break
        if c.name in dates and c.values is not None and not c.values.is_empty() and c.max is not None:
            if dt.date.fromisoformat(c.max[:10]) <= dt.datetime.now(dt.UTC).date():
                out.append({"rule": "not_in_future", "column": c.name, "severity": "warn"})
        if c.type == "string" and not c.phi and 1 < c.distinct <= 10 and c.rows - c.nulls >= 10 * c.distinct:
            values = sorted(c.values.unique().to_list())
            out.append({"rule": "accepted_values", "column": c.name, "values": values, "severity": "warn"})
    for first, second in _DATE_PAIRS:
        for name in dates:
            other = re.sub(rf"(?i){first}", lambda m: _same_case(m.group(0), second), name, count=1)
            if other != name and other in dates and re.search(rf"(?i)(^|_){first}(_|$)", name):
                out.append({"rule": "date_order", "columns": [name, other], "severity": "warn"})
    out.append({"rule": "row_count", "min": 1})
    out.append({"rule": "quarantine_rate", "max": 0.05, "severity": "warn"})
    return out


def _same_case(template: str, word: str) -> str:
    return word.upper() if template.isupper() else word


def _primary_key(profile: FileProfile) -> list[str]:
    for c in profile.columns:
        if re.search(r"(^|_)(id|key|num|number)$", name_tokens(c.name)) and c.nulls == 0 and c.distinct == c.rows > 1:
            return [c.name]
    return []


def _column(c: ColumnProfile, key: list[str]) -> dict:
    out: dict = {"name": c.name, "type": c.type}
    if c.input_format:
        out["input_format"] = c.input_format
    if c.type == "decimal":
        out["precision"], out["scale"] = c.precision, c.scale
    if c.name in key:
        out["nullable"] = False
    if c.phi:
        out["phi"] = {"category": c.phi.category.value, "masking": c.phi.masking.value}
        if c.phi.keep is not None:
            out["phi"]["keep"] = c.phi.keep
    return out


def _format(profile: FileProfile) -> dict:
    layout = profile.layout
    if layout.kind == "fixed_width":
        fmt: dict = {"kind": "fixed_width", "fields": [{"name": c.name, "start": c.start, "length": c.length} for c in profile.columns]}
        if layout.record_types is not None:
            fmt["record_types"] = layout.record_types
    else:
        fmt = {"kind": "csv", "delimiter": layout.delimiter, "header": layout.header}
    if layout.encoding != "utf-8":
        fmt["encoding"] = layout.encoding
    return fmt


def draft_spec(profile: FileProfile, provider: str, table: str | None = None, owner: str = "team:data-onboarding") -> dict:
    """The draft spec as a mapping, validated against the SourceSpec model before it is returned."""
    table = table or slug(profile.path.stem)
    cadence, pattern, start = _delivery(profile.path.name)
    key = _primary_key(profile)
    spec = {
        "description": f"Draft from `carelake profile {profile.path.name}` on {dt.datetime.now(dt.UTC):%Y-%m-%d}; "
        "describe the feed and review PHI and validations.",
        "owners": [owner],
        "cadence": cadence,
        "start_date": start,
        "delivery": {"channel": {"kind": "local", "path": provider}, "file_pattern": pattern},
        "format": _format(profile),
        "columns": [_column(c, key) for c in profile.columns],
        "primary_key": key,
        "validations": suggest_validations(profile),
    }
    SourceSpec.model_validate({**spec, "provider": provider, "table": table})
    return spec


_MASKING_TEXT = {
    Masking.hash: "hashed (a keyed token: joins across feeds, the value is gone)",
    Masking.redact: "removed (null)",
    Masking.year_only: "the year only",
    Masking.age_90plus: "the birth year, ages over 89 shown as 90",
    Masking.zip3: "the first 3 digits (000 for small areas)",
    Masking.none: "kept as delivered (a reviewed opt-out)",
}


def in_transformed(spec: SourceSpec, column: Column) -> str:
    """What the transformed layer does with a column, in words (from `SourceSpec.masking_of`)."""
    masking = spec.masking_of(column)
    if masking is None:
        return "kept as delivered"
    if masking is Masking.truncate:
        return f"the first {column.phi.keep} characters"
    return _MASKING_TEXT[masking]


def source_spec(spec: dict, provider: str = "draft", table: str = "draft") -> SourceSpec:
    return SourceSpec.model_validate({**spec, "provider": provider, "table": table})


def column_comment(spec: SourceSpec, c: ColumnProfile) -> str:
    """The verdict on a column and its fate in transformed, without any value."""
    fate = in_transformed(spec, spec.column(c.name))
    if c.phi:
        verdict = f"PHI {c.phi.category.value} ({c.phi_confidence:.0%}, by {c.phi.evidence})"
    else:
        verdict = f"not PHI ({c.phi_confidence:.0%})" + (f": {c.doubt}" if c.doubt else "")
    note = f"; {c.note}" if c.note else ""
    return f"{verdict}; transformed: {fate}{note}"


def to_yaml(spec: dict, profile: FileProfile) -> str:
    """The draft as YAML, one line per column with a comment on its PHI verdict and what transformed does with it."""
    phi = [c.name for c in profile.columns if c.phi]
    header = [
        f"# Draft source spec generated by `carelake profile` from {profile.path.name} ({profile.rows:,} rows).",
        f"# PHI columns found: {phi or 'none'}. Review every annotation and validation before merging.",
        *(f"# {note}" for note in profile.layout.notes),
    ]
    model = source_spec(spec)
    placeholders = {**spec, "columns": [{"__column__": i} for i in range(len(spec["columns"]))]}
    body = yaml.safe_dump(placeholders, sort_keys=False, default_flow_style=None, width=160, allow_unicode=True)

    def column_line(match: re.Match) -> str:
        i = int(match.group(2))
        line = yaml.safe_dump(spec["columns"][i], sort_keys=False, default_flow_style=True, width=10_000, allow_unicode=True).strip()
        return f"{match.group(1)}{line}  # {column_comment(model, profile.columns[i])}"

    body = re.sub(r"(?m)^(\s*- )\{__column__: (\d+)\}$", column_line, body)
    return "\n".join(header) + "\n" + body
