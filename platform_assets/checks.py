"""A feed's checks as Dagster asset checks: one `AssetCheckSpec` per engine check
(`carelake.quality.checks_for`), and its (passed, metadata) outcome as an `AssetCheckResult`."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from carelake.names import table_key
from carelake.quality import Check, checks_for
from carelake.quality import run_checks as run_engine_checks
from carelake.spec import SourceSpec
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


@dataclass(frozen=True)
class FeedCheck:
    """One asset check of a feed and the engine check it runs."""

    spec: dg.AssetCheckSpec
    check: Check

    @property
    def key(self) -> dg.AssetCheckKey:
        return self.spec.key

    def result(self, passed: bool, metadata: dict) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=self.spec.asset_key,
            check_name=self.spec.name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if self.spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
        )


def feed_checks(spec: SourceSpec, partitions_def: dg.PartitionsDefinition) -> list[FeedCheck]:
    """Every check of a feed, in evaluation order, each partitioned like the feed."""
    return [
        FeedCheck(
            dg.AssetCheckSpec(
                c.name, asset=dg.AssetKey(table_key(c.layer, spec)), blocking=c.blocking, description=c.description,
                partitions_def=partitions_def,
            ),
            c,
        )
        for c in checks_for(spec)
    ]


def run_checks(
    spec: SourceSpec, checks: list[FeedCheck], lake: DeltaLake, selection: PartitionSelection
) -> list[dg.AssetCheckResult]:
    """Evaluate checks against exactly the selected partitions, in order."""
    outcomes = run_engine_checks(spec, [c.check for c in checks], lake, selection)
    return [c.result(passed, metadata) for c, (passed, metadata) in zip(checks, outcomes, strict=True)]
