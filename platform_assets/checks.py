"""A feed's checks as Dagster asset checks: one `AssetCheckSpec` per engine check
(`carelake.quality.checks_for`), and each partition's (passed, metadata) as an `AssetCheckEvaluation`."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

from carelake.names import table_key
from carelake.quality import Check, Outcome, checks_for
from carelake.quality import run_checks as run_engine_checks
from carelake.spec import SourceSpec
from resources.lake import DeltaLake


@dataclass(frozen=True)
class FeedCheck:
    """One asset check of a feed and the engine check it runs."""

    spec: dg.AssetCheckSpec
    check: Check

    @property
    def key(self) -> dg.AssetCheckKey:
        return self.spec.key

    def evaluation(
        self, partition: str, passed: bool, metadata: dict, target: dg.EventLogRecord | None
    ) -> dg.AssetCheckEvaluation:
        """This check's result for one partition, about that partition's latest materialization `target`.

        An evaluation (not an AssetCheckResult, which has no partition) updates the partition's planned
        check in a range run; without its target it would not count as current, and automation
        downstream (`all_deps_blocking_checks_passed`) would never see it pass.
        """
        return dg.AssetCheckEvaluation(
            asset_key=self.spec.asset_key,
            check_name=self.spec.name,
            passed=passed,
            partition=partition,
            blocking=self.spec.blocking,
            severity=dg.AssetCheckSeverity.ERROR if self.spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
            target_materialization_data=None if target is None else AssetCheckEvaluationTargetMaterializationData(
                storage_id=target.storage_id, run_id=target.run_id, timestamp=target.timestamp
            ),
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


def run_checks(spec: SourceSpec, checks: list[FeedCheck], lake: DeltaLake, keys: list[str]) -> list[dict[str, Outcome]]:
    """Each check's (passed, metadata) per partition key (`carelake.quality.run_checks`)."""
    return run_engine_checks(spec, [c.check for c in checks], lake, keys)
