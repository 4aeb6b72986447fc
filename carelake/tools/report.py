"""`carelake report FEED`: a data-quality report to send to the provider of a feed.

Everything comes from what the pipeline recorded: the landed manifest, the raw and quarantine tables
(`resources/lake.py`) and the raw materializations' metadata and check results in the Dagster
instance; no delivered file is parsed again. It shows no row values: a PHI column's value never,
another column's only as its shape (`carelake/privacy/samples.py`: digits 9, letters X), and never a
whole record. Written for a reader who has never seen carelake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from carelake.coercion import expected_text  # the text quarantine reasons use, one place
from carelake.layers.landed import current_files
from carelake.names import FILE_COLUMN, LANDED, LINE_COLUMN, PARTITION_COLUMN, QUARANTINE, RAW, RECORD_COLUMN, table_key
from carelake.quality import checks_for
from carelake.privacy.samples import phi_columns, shape_text
from carelake.settings import Settings
from carelake.spec import Cadence, SourceSpec
from carelake.spec.windows import expected_delivery, hours_late, keys_between, window_of
from carelake.tools.document import Document, Section, Table, to_html, to_markdown
from carelake.tools.run import RunRefused, check_partition, find_feed, partition_of_file, require_dagster_home
from platform_assets.partitions import partitions_for
from resources.lake import DeltaLake
from resources.selection import PartitionSelection

FIRST_LINES = 5  # line numbers listed per problem
MAX_PERIODS = 31  # late or missing periods listed
_WITHHELD = "withheld (personal data)"


@dataclass
class Recorded:
    """What the pipeline recorded for the report's partitions."""

    keys: list[str]
    manifest: pl.DataFrame  # every landed version of every file
    counts: pl.DataFrame  # per file: rows loaded, rows set aside
    quarantine: pl.DataFrame  # per (file, column, rule): rows, first lines, first value
    problems: pl.DataFrame  # per (file, column, problem): rows, first lines (every problem of a set-aside row)
    drift: dict[str, dict[str, dict]]  # partition -> file -> drift
    checks: list[tuple[str, str, bool, str, dict]]  # (partition, check, passed, severity, numbers)


def report_command(settings: Settings, args: argparse.Namespace) -> int:
    """`carelake report FEED [--partition K | --file F] [--format markdown|html] [--out FILE]`."""
    try:
        spec = find_feed(settings, args.feed)
        require_dagster_home()
        lake = DeltaLake(root=settings.lake_root)
        if args.file:
            keys = [check_partition(spec, partition_of_file(spec, Path(args.file).name))]
        elif args.partition:
            keys = [check_partition(spec, args.partition)]
        else:
            keys = sorted(lake.counts_by_partition(table_key(LANDED, spec), PartitionSelection.everything()))
            if not keys:
                raise RunRefused(f"{spec.key}: nothing has landed yet; run `carelake run {spec.key} --file F` first")
    except RunRefused as exc:
        print(f"carelake report: {exc}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        doc = build_report(spec, keys, recorded(spec, keys, lake, instance), explicit=bool(args.file or args.partition))
    text = to_html(doc) if args.format == "html" else to_markdown(doc)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def recorded(spec: SourceSpec, keys: list[str], lake: DeltaLake, instance: dg.DagsterInstance) -> Recorded:
    """Read the report's facts from the lake and the instance."""
    selection = PartitionSelection.of_keys(keys)
    landed, raw, quarantine = (table_key(layer, spec) for layer in (LANDED, RAW, QUARANTINE))
    manifest = lake.read(landed, selection) if lake.exists(landed) else pl.DataFrame()
    per_file = [PARTITION_COLUMN, FILE_COLUMN]
    loaded = (lake.scan(raw, selection).group_by(per_file).agg(pl.len().alias("loaded")).collect()
              if lake.exists(raw) else pl.DataFrame(schema={PARTITION_COLUMN: pl.String, FILE_COLUMN: pl.String, "loaded": pl.UInt32}))
    rejected = (lake.scan(quarantine, selection).select(*per_file, LINE_COLUMN, "column", "rule", "reason", "value")
                if lake.exists(quarantine) else None)
    set_aside = (rejected.group_by(per_file).agg(pl.len().alias("set_aside")).collect() if rejected is not None
                 else pl.DataFrame(schema={PARTITION_COLUMN: pl.String, FILE_COLUMN: pl.String, "set_aside": pl.UInt32}))
    counts = loaded.join(set_aside, on=per_file, how="full", coalesce=True).fill_null(0)
    by_rule, problems = _quarantine_tables(spec, rejected)
    return Recorded(keys, manifest, counts, by_rule, problems, _drift(instance, spec, keys), _checks(instance, spec, keys))


def _quarantine_tables(spec: SourceSpec, rejected: pl.LazyFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    empty = pl.DataFrame(schema={FILE_COLUMN: pl.String, "column": pl.String, "rule": pl.String, "rows": pl.UInt32,
                                 "lines": pl.List(pl.Int64), "value": pl.String})
    if rejected is None:
        return empty, empty.rename({"rule": "problem"}).drop("value")
    ordered = rejected.sort(FILE_COLUMN, LINE_COLUMN)
    by_rule = (ordered.group_by(FILE_COLUMN, "column", "rule", maintain_order=True)
               .agg(pl.len().alias("rows"), pl.col(LINE_COLUMN).head(FIRST_LINES).alias("lines"), pl.col("value").first())
               .collect())
    # A row is set aside for its first problem; its `reason` lists every problem found in it ("COL: ...; COL: ...").
    columns = "|".join(sorted((re.escape(c.name) for c in spec.columns), key=len, reverse=True))
    fragments = (ordered.select(FILE_COLUMN, LINE_COLUMN, pl.col("reason").str.replace_all(rf"; ((?:{columns}): )", "\x1f$1")
                                .str.split("\x1f").alias("problem"))
                 .explode("problem").drop_nulls("problem"))
    problems = (fragments.with_columns(pl.col("problem").str.extract(rf"^({columns}): ").fill_null(RECORD_COLUMN).alias("column"),
                                       pl.col("problem").str.replace(rf"^(?:{columns}): ", ""))
                .group_by(FILE_COLUMN, "column", "problem", maintain_order=True)
                .agg(pl.len().alias("rows"), pl.col(LINE_COLUMN).head(FIRST_LINES).alias("lines"))
                .select(FILE_COLUMN, "column", "problem", "rows", "lines")
                .collect())
    return by_rule, problems


def _latest_raw_records(instance: dg.DagsterInstance, spec: SourceSpec, keys: list[str]) -> list[dg.EventLogRecord]:
    key = dg.AssetKey(table_key(RAW, spec))
    ids = instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(keys))
    if not ids:
        return []
    return list(instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())),
                                                limit=len(ids)).records)


def _drift(instance: dg.DagsterInstance, spec: SourceSpec, keys: list[str]) -> dict[str, dict[str, dict]]:
    out = {}
    for record in _latest_raw_records(instance, spec, keys):
        value = record.asset_materialization.metadata.get("schema_drift")
        if value is not None and value.value:
            out[record.partition_key] = value.value
    return out


def _checks(instance: dg.DagsterInstance, spec: SourceSpec, keys: list[str]) -> list[tuple[str, str, bool, str, dict]]:
    """(partition, check, passed, severity, counts) of the latest evaluation of each check of raw and transformed."""
    from dagster._core.event_api import PartitionKeyFilter  # not exported by dagster 1.13; the storage API takes it

    check_keys = [dg.AssetCheckKey(dg.AssetKey(table_key(c.layer, spec)), c.name) for c in checks_for(spec)]
    out = []
    for partition in keys:
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys, PartitionKeyFilter(key=partition))
        for check_key, record in sorted(latest.items(), key=lambda kv: kv[0].name):
            evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
            if not isinstance(evaluation, dg.AssetCheckEvaluation):
                continue
            numbers = {k: v.value for k, v in evaluation.metadata.items() if k in ("rows_checked", "failing_rows")}
            out.append((partition, check_key.name, evaluation.passed, evaluation.severity.value, numbers))
    return out


# --- the document --------------------------------------------------------------------------------------


def build_report(spec: SourceSpec, keys: list[str], facts: Recorded, explicit: bool) -> Document:
    """The report: summary, files, rows set aside, layout differences, deliveries, checks, what the spec expects."""
    scope = keys[0] if len(keys) == 1 else f"{len(keys)} deliveries, {keys[0]} to {keys[-1]}"
    doc = Document(f"Data quality report: {spec.key} ({scope})")
    phi = phi_columns(spec)
    files = current_files(facts.manifest) if not facts.manifest.is_empty() else facts.manifest
    loaded, set_aside = (int(facts.counts[c].sum()) if facts.counts.height else 0 for c in ("loaded", "set_aside"))
    doc.sections.append(Section("Summary").add(
        f"Feed: {spec.description} We receive it {_cadence(spec)}; the file names follow the pattern "
        f"{spec.delivery.file_pattern}" + (" (its {date:...} part is the date of the period a file is for)."
                                            if "{date:" in spec.delivery.file_pattern else "."),
        f"This report covers {_plural(files.height, 'file')} for {scope}, generated "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. It contains no data values: where a value helps to find a problem it "
        "is shown only as its shape (every digit as 9, every letter as X), and values of personal-data columns not at all.",
        [f"{loaded + set_aside} rows received, {loaded} loaded, {set_aside} set aside because of a problem "
         f"({_pct(set_aside, loaded + set_aside)}). Rows set aside are kept, not lost, and are loaded once a corrected file "
         "is delivered.",
         f"{sum(len(d) for d in facts.drift.values())} file(s) whose columns differ from the agreed layout.",
         f"{sum(not passed for _, _, passed, _, _ in facts.checks)} failed data check result(s)."],
    ))
    doc.sections.append(_files_section(files, facts))
    doc.sections.append(_quarantine_section(spec, facts, phi))
    doc.sections.append(_drift_section(facts))
    doc.sections.append(_deliveries_section(spec, keys, files, explicit))
    doc.sections.append(_checks_section(spec, facts))
    doc.sections.append(_expectations_section(spec))
    return doc


def _files_section(files: pl.DataFrame, facts: Recorded) -> Section:
    section = Section("Files received")
    if files.is_empty():
        return section.add("No file has been received for this period.")
    counts = {(r[PARTITION_COLUMN], r[FILE_COLUMN]): r for r in facts.counts.iter_rows(named=True)}
    rows = []
    for f in files.sort(PARTITION_COLUMN, "file_name").iter_rows(named=True):
        c = counts.get((f[PARTITION_COLUMN], f["file_name"]), {"loaded": 0, "set_aside": 0})
        rows.append([f["file_name"], f[PARTITION_COLUMN], _when(f["delivered_at"]), f"{f['size_bytes']:,}", str(f["version"]),
                     str(c["loaded"] + c["set_aside"]), str(c["loaded"]), str(c["set_aside"]), f["sha256"][:12]])
    older = facts.manifest.height - files.height
    return section.add(
        Table(["file", "period", "received (UTC)", "bytes", "version", "rows received", "loaded", "set aside", "sha256 (start)"], rows),
        f"{older} earlier version(s) of these files were replaced by a re-delivery; counts are for the latest version." if older else "",
    )


def _quarantine_section(spec: SourceSpec, facts: Recorded, phi: set[str]) -> Section:
    section = Section("Rows set aside, and why")
    if facts.quarantine.is_empty():
        return section.add("No row was set aside.")
    rows = [[f, _column(c), _rule(r), str(n), _lines(lines), _shape(c, v, phi)]
            for f, c, r, n, lines, v in facts.quarantine.iter_rows()]
    section.add("Each row is set aside for the first problem found in it. Line numbers are lines of the delivered file, "
                "counting the header line as line 1.",
                Table(["file", "column", "problem", "rows", f"first lines (up to {FIRST_LINES})", "shape of the first value"], rows))
    if facts.problems.height > facts.quarantine.height or int(facts.problems["rows"].sum()) > int(facts.quarantine["rows"].sum()):
        section.add("Some of those rows have more than one problem. Every problem found in the rows set aside:",
                    Table(["file", "column", "problem", "rows", f"first lines (up to {FIRST_LINES})"],
                          [[f, _column(c), p, str(n), _lines(lines)] for f, c, p, n, lines in facts.problems.iter_rows()]))
    return section


def _drift_section(facts: Recorded) -> Section:
    section = Section("Columns that differ from the agreed layout")
    rows = []
    for partition, files in sorted(facts.drift.items()):
        for name, drift in sorted(files.items()):
            for kind, label in (("new", "not in the agreed layout (not loaded)"), ("missing", "missing from the file"),
                                ("renamed", "renamed"), ("retyped", "of another type")):
                value = drift.get(kind)
                if value:
                    shown = ", ".join(f"{a} -> {b}" for a, b in value.items()) if isinstance(value, dict) else ", ".join(value)
                    rows.append([name, partition, label, shown])
    return section.add(Table(["file", "period", "difference", "columns"], rows) if rows else "Every file has the agreed columns.")


def _deliveries_section(spec: SourceSpec, keys: list[str], files: pl.DataFrame, explicit: bool) -> Section:
    section = Section("Late or missing deliveries")
    if spec.cadence is Cadence.adhoc:
        return section.add("This feed has no schedule: files are delivered when there is something to send.")
    first = files.sort("delivered_at").group_by(PARTITION_COLUMN, maintain_order=True).first() if files.height else files
    delivered = {r[PARTITION_COLUMN]: r for r in first.iter_rows(named=True)} if files.height else {}
    expected_keys = keys if explicit else _windows_through_last_ended(spec, keys[0])
    rows = []
    for key in expected_keys:
        due = expected_delivery(spec, key)
        start, end = window_of(spec, key)
        got = delivered.get(key)
        if got is None:
            if due is not None and due < dt.datetime.now(dt.UTC):
                rows.append([f"{start} to {end - dt.timedelta(days=1)}", _when(due), "missing", ""])
            continue
        late = hours_late(due, got["delivered_at"])
        if late > 0:
            rows.append([f"{start} to {end - dt.timedelta(days=1)}", _when(due), "late", f"{late:.1f} hours after due ({_when(got['delivered_at'])})"])
    intro = f"A file for a period is due {spec.freshness.due_hours} hours after the period ends."
    if not rows:
        return section.add(intro, "Every delivery arrived on time.")
    missing = sum(r[2] == "missing" for r in rows)
    shown = rows[-MAX_PERIODS:]  # the most recent
    return section.add(intro, f"{missing} period(s) missing, {len(rows) - missing} delivered late.",
                       Table(["period", "due (UTC)", "status", "detail"], shown),
                       f"The {len(rows) - len(shown)} earlier ones are left out." if len(shown) < len(rows) else "")


def _windows_through_last_ended(spec: SourceSpec, first: str) -> list[str]:
    last = partitions_for(spec).get_last_partition_key()
    return keys_between(spec, first, window_of(spec, last)[1].isoformat()) if last else []


def _checks_section(spec: SourceSpec, facts: Recorded) -> Section:
    section = Section("Data checks")
    failed = [c for c in facts.checks if not c[2]]
    if not facts.checks:
        return section.add("No data check has run on this period yet.")
    passed = len(facts.checks) - len(failed)
    section.add(f"{passed} of {len(facts.checks)} check results passed.")
    if failed:
        rows = [[partition, name, _check_text(spec, name), "must pass" if severity == "ERROR" else "warning",
                 str(numbers.get("failing_rows", "")), str(numbers.get("rows_checked", ""))]
                for partition, name, _, severity, numbers in failed]
        section.add(Table(["period", "check", "what it checks", "kind", "rows failing", "rows checked"], rows))
    return section


def _expectations_section(spec: SourceSpec) -> Section:
    section = Section("What we expect in each file")
    fmt = spec.format
    scalars = {k: v for k, v in fmt.model_dump(exclude={"kind"}).items() if isinstance(v, str | int | float | bool) and v != ""}
    details = [f"format: {fmt.kind}"] + [f"{k.replace('_', ' ')}: {v!r}" for k, v in scalars.items()]
    rules = _rules_by_column(spec)
    rows = []
    for c in spec.columns:
        rows.append([c.name, expected_text(spec, c).removeprefix("a ").removeprefix("an "), "yes" if not c.nullable else "no",
                     "; ".join(rules.get(c.name, [])), "yes" if c.phi else "", c.description])
    table_rules = rules.get("", [])
    return section.add(
        "File layout: " + ", ".join(details) + ".",
        f"Columns, in this order{' (a header line names them)' if getattr(fmt, 'header', True) else ''}:",
        Table(["column", "type and format", "required", "allowed values and rules", "personal data", "description"], rows),
        f"Each row is identified by {', '.join(spec.primary_key)} (no two rows may share it)." if spec.primary_key else "",
        ["Whole-file rules: " + "; ".join(table_rules)] if table_rules else "",
    )


def _rules_by_column(spec: SourceSpec) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for v in spec.validations:
        text = _rule_text(v)
        columns = [getattr(v, "column", None)] if getattr(v, "column", None) else list(getattr(v, "columns", []) or [])
        for name in columns or [""]:
            out[name].append(text + ("" if v.severity.value == "error" else " (warning only)"))
    return out


def _rule_text(v) -> str:  # noqa: ANN001 - any Validation model
    rule = v.rule
    if rule == "accepted_values":
        return "one of " + ", ".join(v.values)
    if rule == "regex":
        return f"matches the pattern {v.pattern}"
    if rule in ("range", "length", "row_count"):
        what = {"range": "between", "length": "length between", "row_count": "row count between"}[rule]
        return f"{what} {v.min if v.min is not None else '-'} and {v.max if v.max is not None else '-'}"
    if rule == "not_null":
        return "never empty"
    if rule == "unique":
        return "unique within a file: " + ", ".join(v.columns)
    if rule == "unique_across_partitions":
        return "unique across all deliveries: " + ", ".join(v.columns)
    if rule == "date_order":
        return "dates in order: " + " <= ".join(v.columns)
    if rule == "references":
        return f"a value known in {v.to} ({v.to_column})"
    if rule == "expression":
        return v.sql
    return {"npi": "a valid NPI", "icd10_cm": "a valid ICD-10-CM code", "cpt": "a valid CPT code", "hcpcs": "a valid HCPCS code",
            "ndc": "a valid NDC", "us_state": "a US state code", "zip": "a US ZIP code", "not_in_future": "not in the future",
            "quarantine_rate": f"at most {getattr(v, 'max', '')} of rows set aside",
            "row_count_change": "row count close to the previous delivery's"}.get(rule, rule.replace("_", " "))


def _check_text(spec: SourceSpec, name: str) -> str:
    """What a check tests, in the provider's words for the platform's own checks, else the rule's description."""
    fixed = {"rows_accounted_for": "every row received is either loaded or set aside",
             "not_all_quarantined": "not every row of a delivery is set aside",
             "primary_key_unique": "no two rows share the identifying columns " + ", ".join(spec.primary_key)}
    described = {c.name: c.description for c in checks_for(spec)}
    return fixed.get(name) or described.get(name, name).removesuffix(" (warn)").removesuffix(" (error)")


def _cadence(spec: SourceSpec) -> str:
    return "when there is something to send" if spec.cadence is Cadence.adhoc else {
        "daily": "every day", "weekly": "every week", "monthly": "every month", "quarterly": "every quarter",
        "semiannual": "every half-year", "yearly": "every year"}[spec.cadence.value]


def _column(name: str | None) -> str:
    return "the whole line" if name == RECORD_COLUMN else name or ""


def _rule(rule: str | None) -> str:
    return {"not_null": "required value is empty", "type": "value does not have the expected type or format",
            "format": "the line cannot be split into the expected fields", "control_chars": "contains a control character",
            "key_chars": "identifier contains an invisible or look-alike character"}.get(rule or "", rule or "")


def _shape(column: str | None, value: str | None, phi: set[str]) -> str:
    """A value as the report may show it: never a PHI column's or a whole line's, another's only as its shape."""
    if column in phi:
        return _WITHHELD
    return "(empty)" if value is None else shape_text(value[:40])


def _lines(lines: list[int]) -> str:
    return ", ".join(str(n) for n in lines)


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"
