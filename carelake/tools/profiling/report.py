"""The profile report a person reads: layout, per column type, nulls, PHI verdict with its confidence
and what the transformed layer will do with it. Values appear only as shapes (digits -> 9, letters
-> X), for every column: a column the profiler did not flag may still be PHI, so the sample policy
(`carelake/privacy/samples.py`) treats every column of an unreviewed file as PHI.
"""

from __future__ import annotations

from carelake.privacy.samples import sample_value
from carelake.spec import SourceSpec
from carelake.tools.profiling.draft_spec import draft_spec, in_transformed, source_spec
from carelake.tools.profiling.profiler import SAMPLE_ROWS, FileProfile


def _layout_line(profile: FileProfile) -> str:
    layout = profile.layout
    if layout.kind == "fixed_width":
        kind = f"fixed-width, {layout.width} characters a record, {len(layout.fields)} fields, no header"
    else:
        delim = {"\t": "TAB"}.get(layout.delimiter, layout.delimiter)
        kind = f"delimiter {delim!r}, {'header' if layout.header else 'no header'}"
    sampled = f" (profiled the first {SAMPLE_ROWS:,} rows)" if profile.sampled else ""
    return f"{profile.path.name}: {profile.rows:,} rows, {len(profile.columns)} columns, {kind}, {profile.encoding}{sampled}"


def format_report(profile: FileProfile, spec: SourceSpec | None = None) -> str:
    """A readable report; `spec` is the draft (made from the profile if not given) whose masking it states."""
    spec = spec or source_spec(draft_spec(profile, "draft", "draft"))
    unreviewed = {c.name for c in profile.columns}  # every column, as far as the sample policy goes
    fixed = profile.layout.kind == "fixed_width"
    lines = [_layout_line(profile), *(f"  note: {n}" for n in profile.layout.notes), ""]
    lines.append(f"{'column':28} {'type':32} {'nulls':>7} {'distinct':>9}  {'min (shape)':>14}  "
                 f"{'max (shape)':>14}  {'phi (confidence, evidence)':56} transformed")
    for c in profile.columns:
        name = f"{c.name} @{c.start}+{c.length}" if fixed else c.name
        kind = c.type + (f" {c.input_format}" if c.input_format else "")
        lo, hi = (sample_value(c.name, v, unreviewed) or "" for v in (c.min, c.max))
        if c.phi:
            phi = f"{c.phi.category.value} {c.phi_confidence:.0%} ({c.phi.evidence})"
        else:
            phi = f"none {c.phi_confidence:.0%}"
        fate = in_transformed(spec, spec.column(c.name))
        lines.append(f"{name[:28]:28} {kind[:32]:32} {c.null_rate:7.1%} {c.distinct:9,}  {lo[:14]:>14}  {hi[:14]:>14}  "
                     f"{phi[:56]:56} {fate}")
    notes = [(c.name, c.note) for c in profile.columns if c.note] + [(c.name, c.doubt) for c in profile.columns if c.doubt]
    if notes:
        lines += ["", "to review:"] + [f"  - {name}: {text}" for name, text in notes]
    risks = profile.risks
    lines += ["", "compliance risks:" if risks else "compliance risks: none found by name or value"]
    lines += [f"  - {r}" for r in risks]
    return "\n".join(lines)
