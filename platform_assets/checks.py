"""Asset checks generated from a spec: the platform's own invariants plus the spec's validations.

Each check is evaluated against exactly the partitions of the run, read back from the lake, and
reports counts only (never data values, which may be PHI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from platform_assets.layers import asset_key, quarantine_key
from platform_assets.readers import read_delivery
from platform_assets.spec import AcceptedValues, NotNull, Severity, SourceSpec, Unique
from platform_assets.versions import current_files
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection

Evaluate = Callable[[DeltaLake, PartitionSelection], tuple[bool, dict]]


@dataclass(frozen=True)
class FeedCheck:
    spec: dg.AssetCheckSpec
    evaluate: Evaluate

    @property
    def key(self) -> dg.AssetCheckKey:
        return self.spec.key

    def run(self, lake: DeltaLake, selection: PartitionSelection) -> dg.AssetCheckResult:
        passed, metadata = self.evaluate(lake, selection)
        return dg.AssetCheckResult(
            asset_key=self.spec.asset_key,
            check_name=self.spec.name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if self.spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )


def feed_checks(spec: SourceSpec, partitions_def: dg.PartitionsDefinition) -> list[FeedCheck]:
    """Every check of a feed, in evaluation order; each is evaluated per partition."""
    raw, transformed = asset_key("raw", spec), asset_key("transformed", spec)

    def check(name: str, asset: dg.AssetKey, blocking: bool, description: str, evaluate: Evaluate) -> FeedCheck:
        return FeedCheck(
            dg.AssetCheckSpec(name, asset=asset, blocking=blocking, description=description, partitions_def=partitions_def),
            evaluate,
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
    for validation in spec.validations:
        checks.append(check(*_validation_check(raw, validation)))
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
        read_delivery(spec, Path(path), name).select(pl.len()).collect().item()
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


def _validation_check(raw: dg.AssetKey, v: NotNull | Unique | AcceptedValues) -> tuple[str, dg.AssetKey, bool, str, Evaluate]:
    blocking = v.severity is Severity.error
    if isinstance(v, Unique):
        name, description = f"unique_{'_'.join(v.columns)}", f"{v.columns} are unique within a partition"

        def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
            return _unique(lake, raw, sel, v.columns)
    else:
        if isinstance(v, NotNull):
            name, description = f"not_null_{v.column}", f"{v.column} is never null"
            failing = pl.col(v.column).is_null()
        else:
            name, description = f"accepted_values_{v.column}", f"{v.column} is one of {v.values}"
            failing = pl.col(v.column).is_not_null() & ~pl.col(v.column).cast(pl.String).is_in(v.values)

        def evaluate(lake: DeltaLake, sel: PartitionSelection) -> tuple[bool, dict]:
            counts = lake.scan(raw, sel).select(rows=pl.len(), failing=failing.sum()).collect()
            rows, bad = counts.row(0)
            return bad == 0, {"rows_checked": rows, "failing_rows": int(bad or 0)}

    return name, raw, blocking, f"{description} ({v.severity.value})", evaluate
