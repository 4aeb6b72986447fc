"""A feed's checks: the platform's own invariants plus the spec's validations, each judged against
exactly the partitions of a run, read back from the lake, reporting counts and a small masked sample
(never raw PHI values). Row rules of one table are evaluated together in one pass.

The rules themselves live in `row_rules.py` and `table_rules.py`, each registered once with
`@rule(Model)` (`registry.py`); the code location turns each `Check` into a Dagster asset check.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from carelake.formats import count_records
from carelake.layers.duplicates import COUNT_COLUMN, duplicated_keys
from carelake.layers.landed import current_files
from carelake.names import (
    LANDED,
    PARTITION_COLUMN,
    QUARANTINE,
    RAW,
    TRANSFORMED,
    table_key,
)
from carelake.privacy.samples import sample_rows
from carelake.quality import row_rules, table_rules  # noqa: F401 - registers every rule's builder
from carelake.quality.registry import RowRule, TableRule, build_rule
from carelake.quality.row_rules import evaluate_row_rules
from carelake.spec import Severity, SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake


@dataclass(frozen=True)
class Check:
    """One check of a feed: on which layer's table, whether a failure blocks downstream, and its rule."""

    name: str
    layer: str
    blocking: bool
    description: str
    rule: RowRule | TableRule


def checks_for(spec: SourceSpec) -> list[Check]:
    """Every check of a feed, in evaluation order; each is evaluated per partition."""
    accounted, delivered = _rows_accounted_for(spec), _not_all_quarantined(spec)
    checks = [Check(rule.name, RAW, True, rule.description, rule) for rule in (accounted, delivered)]
    seen: dict[str, int] = {rule.name: 1 for rule in (accounted, delivered)}
    for validation in spec.validations:
        built = build_rule(validation, spec)
        # Two rules of one kind on one column (e.g. two regexes) get distinct check names.
        seen[built.name] = seen.get(built.name, 0) + 1
        name = built.name if seen[built.name] == 1 else f"{built.name}_{seen[built.name]}"
        blocking = validation.severity is Severity.error
        checks.append(Check(name, RAW, blocking, f"{built.description} ({validation.severity.value})", built))
    if spec.primary_key:
        names = spec.transformed_names
        pk = [names[c] for c in spec.primary_key]
        description = f"No two rows of a partition share the primary key {pk}"
        checks.append(Check("primary_key_unique", TRANSFORMED, True, description, _primary_key_unique(spec, pk, description)))
    return checks


Outcome = tuple[bool, dict]  # (passed, metadata of plain values)


def run_checks(spec: SourceSpec, checks: list[Check], lake: DeltaLake, keys: list[str]) -> list[dict[str, Outcome]]:
    """Each check's outcome per partition key, in the order of `checks` and of `keys`.

    Every partition is judged on its own, so a range run records what a run of that partition alone
    would: row rules of one table share one scan grouped by partition (samples are read only where a
    rule failed); a table rule is evaluated partition by partition, in key order.
    """
    results: dict[str, dict[str, Outcome]] = {}
    batched: dict[str, list[Check]] = {}
    for check in checks:
        if isinstance(check.rule, RowRule):
            batched.setdefault(check.layer, []).append(check)
    for layer, group in batched.items():
        frame = lake.scan(table_key(layer, spec), PartitionSelection.of_keys(keys))
        per_partition = evaluate_row_rules(frame, [c.rule for c in group])
        for i, check in enumerate(group):
            outcomes = results[check.name] = {}
            for key in keys:
                rows, failing = per_partition.get(key, (0, [0] * len(group)))
                bad = failing[i]
                meta = {"rows_checked": rows, "failing_rows": bad, "failing_rate": round(bad / rows, 6) if rows else 0.0}
                if bad:
                    mine = frame.filter(pl.col(PARTITION_COLUMN) == key)
                    meta["failing_sample_masked"] = sample_rows(mine, check.rule.failing, spec, check.rule.columns)
                outcomes[key] = (bad == 0, meta)
    for check in checks:
        if isinstance(check.rule, TableRule):
            results[check.name] = {key: check.rule.evaluate(lake, PartitionSelection.of_keys([key])) for key in keys}
    return [results[c.name] for c in checks]


def _rows_accounted_for(spec: SourceSpec) -> TableRule:
    def evaluate(lake: DeltaLake, selection: PartitionSelection) -> tuple[bool, dict]:
        manifest = current_files(lake.read(table_key(LANDED, spec), selection))
        rows_in = sum(count_records(spec, Path(path), name) for path, name in manifest.select("lake_path", "file_name").iter_rows())
        rows_raw = lake.count(table_key(RAW, spec), selection)
        rows_quarantined = lake.count(table_key(QUARANTINE, spec), selection)
        return rows_in == rows_raw + rows_quarantined, {
            "rows_in": rows_in,
            "rows_raw": rows_raw,
            "rows_quarantined": rows_quarantined,
            "rows_lost": rows_in - rows_raw - rows_quarantined,
        }

    description = "Every delivered row is in the raw table or in quarantine: rows_in == rows_raw + rows_quarantined"
    return TableRule("rows_accounted_for", description, evaluate)


def _not_all_quarantined(spec: SourceSpec) -> TableRule:
    """A partition whose every delivered row went to quarantine is not a success with 0 rows checked."""

    def evaluate(lake: DeltaLake, selection: PartitionSelection) -> tuple[bool, dict]:
        rows_raw = lake.count(table_key(RAW, spec), selection)
        rows_quarantined = lake.count(table_key(QUARANTINE, spec), selection)
        return rows_raw > 0 or rows_quarantined == 0, {"rows_raw": rows_raw, "rows_quarantined": rows_quarantined}

    description = "Not every delivered row of the partition went to quarantine (set a lower bound with quarantine_rate)"
    return TableRule("not_all_quarantined", description, evaluate)


def _primary_key_unique(spec: SourceSpec, pk: list[str], description: str) -> TableRule:
    transformed = table_key(TRANSFORMED, spec)

    def evaluate(lake: DeltaLake, selection: PartitionSelection) -> tuple[bool, dict]:
        # Reads only the key columns, with memory bounded by the de-duplication's own bound (bucketed by key hash).
        with tempfile.TemporaryDirectory(prefix="carelake-check-") as spill:
            found = duplicated_keys(
                lake.scan(transformed, selection), [PARTITION_COLUMN, *pk], lake.count(transformed, selection), Path(spill)
            )
            rows = found.frame.select(pl.col(COUNT_COLUMN).sum()).collect().item() if found.keys else 0
        return found.keys == 0, {"duplicate_keys": found.keys, "duplicate_rows": int(rows or 0)}

    return TableRule("primary_key_unique", description, evaluate)
