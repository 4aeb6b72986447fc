"""Asset checks generated from a spec: the platform's own invariants plus the spec's validations.

Each check is evaluated against exactly the partitions of the run, read back from the lake, and
reports counts plus a small masked sample (never raw PHI values). Row rules of one table are
evaluated together in one pass (`run_checks`); the rules themselves live in `quality/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from platform_assets.layers import asset_key, quarantine_key
from platform_assets.quality import table_rules
from platform_assets.quality.row_rules import ROW_RULES, RowRule, evaluate_row_rules, row_rule
from platform_assets.quality.samples import sample_rows
from platform_assets.readers import count_records
from platform_assets.spec import (
    AfterBirth,
    Eligible,
    QuarantineRate,
    References,
    RowCount,
    RowCountChange,
    Severity,
    SourceSpec,
    SumEquals,
    Unique,
    UniqueAcrossPartitions,
)
from platform_assets.versions import current_files
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection

Evaluate = Callable[[DeltaLake, PartitionSelection], tuple[bool, dict]]


@dataclass(frozen=True)
class FeedCheck:
    """One asset check: either a row rule (batched per table) or its own `evaluate` function."""

    spec: dg.AssetCheckSpec
    evaluate: Evaluate | None = None
    row_rule: RowRule | None = None
    source: SourceSpec | None = None

    @property
    def key(self) -> dg.AssetCheckKey:
        return self.spec.key

    def run(self, lake: DeltaLake, selection: PartitionSelection) -> dg.AssetCheckResult:
        return run_checks([self], lake, selection)[0]

    def result(self, passed: bool, metadata: dict) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=self.spec.asset_key,
            check_name=self.spec.name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if self.spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )


def run_checks(checks: list[FeedCheck], lake: DeltaLake, selection: PartitionSelection) -> list[dg.AssetCheckResult]:
    """Evaluate checks against exactly the selected partitions, in order.

    Row rules on the same table share one scan; samples are only read for rules that failed.
    """
    results: dict[dg.AssetCheckKey, dg.AssetCheckResult] = {}
    batched: dict[dg.AssetKey, list[FeedCheck]] = {}
    for check in checks:
        if check.row_rule is not None:
            batched.setdefault(check.spec.asset_key, []).append(check)
    for table, group in batched.items():
        frame = lake.scan(table, selection)
        per_partition = evaluate_row_rules(frame, [c.row_rule for c in group])
        rows = sum(n for n, _ in per_partition.values())
        for i, check in enumerate(group):
            rule = check.row_rule
            bad = sum(failing[i] for _, failing in per_partition.values())
            meta = {"rows_checked": rows, "failing_rows": bad, "failing_rate": round(bad / rows, 6) if rows else 0.0}
            if len(per_partition) > 1:
                by_key = {key: failing[i] for key, (_, failing) in sorted(per_partition.items())}
                meta["failing_rows_by_partition"] = dg.MetadataValue.json(by_key)
            if bad:
                meta["failing_sample_masked"] = dg.MetadataValue.json(sample_rows(frame, rule.failing, check.source, rule.columns))
            results[check.key] = check.result(bad == 0, meta)
    for check in checks:
        if check.row_rule is None:
            results[check.key] = check.result(*check.evaluate(lake, selection))
    return [results[c.key] for c in checks]


def feed_checks(spec: SourceSpec, partitions_def: dg.PartitionsDefinition) -> list[FeedCheck]:
    """Every check of a feed, in evaluation order; each is evaluated per partition."""
    raw, transformed = asset_key("raw", spec), asset_key("transformed", spec)

    def check(
        name: str, asset: dg.AssetKey, blocking: bool, description: str, evaluate: Evaluate | None, rule: RowRule | None = None
    ) -> FeedCheck:
        return FeedCheck(
            dg.AssetCheckSpec(name, asset=asset, blocking=blocking, description=description, partitions_def=partitions_def),
            evaluate,
            rule,
            spec,
        )

    checks = [
        check(
            "rows_accounted_for",
            raw,
            True,
            "Every delivered row is in the raw table or in quarantine: rows_in == rows_raw + rows_quarantined",
            lambda lake, sel: _rows_accounted_for(spec, lake, sel),
        )
    ]
    seen: dict[str, int] = {"rows_accounted_for": 1}
    for validation in spec.validations:
        name, description, evaluate, rule = _validation_check(spec, partitions_def, validation)
        # Two rules of one kind on one column (e.g. two regexes) get distinct check names.
        seen[name] = seen.get(name, 0) + 1
        name = name if seen[name] == 1 else f"{name}_{seen[name]}"
        blocking = validation.severity is Severity.error
        checks.append(check(name, raw, blocking, f"{description} ({validation.severity.value})", evaluate, rule))
    if spec.primary_key:
        names = spec.transformed_names
        pk = [names[c] for c in spec.primary_key]
        checks.append(
            check(
                "primary_key_unique",
                transformed,
                True,
                f"No two rows of a partition share the primary key {pk}",
                lambda lake, sel: _unique(lake, transformed, sel, pk),
            )
        )
    return checks


def _rows_accounted_for(spec: SourceSpec, lake: DeltaLake, selection: PartitionSelection) -> tuple[bool, dict]:
    manifest = current_files(lake.read(asset_key("landed", spec), selection))
    rows_in = sum(
        count_records(spec, Path(path), name)
        for path, name in manifest.select("lake_path", "file_name").iter_rows()
    )
    rows_raw = _count(lake, asset_key("raw", spec).path, selection)
    rows_quarantined = _count(lake, quarantine_key(spec), selection)
    return rows_in == rows_raw + rows_quarantined, {
        "rows_in": rows_in,
        "rows_raw": rows_raw,
        "rows_quarantined": rows_quarantined,
        "rows_lost": rows_in - rows_raw - rows_quarantined,
    }


def _count(lake: DeltaLake, key: list[str], selection: PartitionSelection) -> int:
    return lake.scan(key, selection).select(pl.len()).collect().item() if lake.exists(key) else 0


def _unique(lake: DeltaLake, key: dg.AssetKey, selection: PartitionSelection, columns: list[str]) -> tuple[bool, dict]:
    dupes = (
        lake.scan(key, selection)
        .group_by(PARTITION_COLUMN, *columns)
        .len()
        .filter(pl.col("len") > 1)
        .select(groups=pl.len(), rows=pl.col("len").sum())
        .collect()
    )
    groups, rows = dupes.row(0)
    return groups == 0, {"duplicate_keys": groups, "duplicate_rows": rows or 0}


def _validation_check(
    spec: SourceSpec, partitions_def: dg.PartitionsDefinition, v: object
) -> tuple[str, str, Evaluate | None, RowRule | None]:
    """(check name, description, evaluate, row rule) for one of the spec's validations."""
    if isinstance(v, ROW_RULES):
        rule = row_rule(v)
        return rule.name, rule.description, None, rule
    raw = asset_key("raw", spec).path
    cols = "_".join(getattr(v, "columns", None) or [])
    if isinstance(v, Unique):
        return f"unique_{cols}", f"{v.columns} are unique within a partition", table_rules.unique(raw, spec, v), None
    if isinstance(v, UniqueAcrossPartitions):
        description = f"{v.columns} of a partition appear in no other partition"
        return f"unique_across_partitions_{cols}", description, table_rules.unique(raw, spec, v), None
    if isinstance(v, RowCount):
        return "row_count", f"each partition has {v.min or 0}..{v.max or 'any'} rows", table_rules.row_count(raw, partitions_def, v), None
    if isinstance(v, RowCountChange):
        description = f"row count changes by at most -{v.max_drop} / +{v.max_growth} against the previous partition"
        return "row_count_change", description, table_rules.row_count_change(raw, partitions_def, v), None
    if isinstance(v, References):
        description = f"{v.column} exists in {v.to}.{v.to_column}"
        return f"references_{v.column}", description, table_rules.references(raw, spec, v), None
    if isinstance(v, Eligible):
        description = f"{v.member_column} is eligible in {v.to} on {v.date_column}"
        return f"eligible_{v.member_column}", description, table_rules.eligible(raw, spec, v), None
    if isinstance(v, AfterBirth):
        description = f"{v.date_column} is on or after the birth date ({v.to}.{v.birth_column}) of {v.member_column}"
        return f"after_birth_{v.date_column}", description, table_rules.after_birth(raw, spec, v), None
    if isinstance(v, SumEquals):
        description = f"{v.column} summed per {v.group_by} equals {v.total_column}"
        return f"sum_equals_{v.total_column}", description, table_rules.sum_equals(raw, spec, v), None
    if isinstance(v, QuarantineRate):
        description = f"at most {v.max:.2%} of delivered rows are quarantined"
        evaluate = table_rules.quarantine_rate(raw, quarantine_key(spec), partitions_def, v)
        return "quarantine_rate", description, evaluate, None
    raise TypeError(f"no check for validation {type(v).__name__}")  # pragma: no cover
