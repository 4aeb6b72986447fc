"""`carelake demo`: simulate a month of deliveries and materialize every partition through Dagster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from carelake.names import LANDED, QUARANTINE, RAW, TRANSFORMED, table_key
from carelake.settings import Settings
from carelake.spec.loading import load_specs
from carelake.tools.simulation import Simulator
from platform_assets.assembly import build_definitions
from platform_assets.partitions import partitions_for
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


@dataclass
class FeedSummary:
    feed: str
    partitions: int
    rows_raw: int
    rows_transformed: int
    rows_quarantined: int
    checks_passed: int
    checks_failed: int
    success: bool


def run_demo(settings: Settings, instance: dg.DagsterInstance, month: dt.date, fault_rate: float, seed: int,
             feeds: list[str] | None = None) -> list[FeedSummary]:
    """Simulate `month` for every feed (or the named `provider/table` feeds), then one single-run backfill per feed."""
    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    defs = build_definitions(settings)
    simulator = Simulator(settings.landing_root, seed=seed)
    lake = DeltaLake(root=settings.lake_root)
    summaries = []
    for loaded in load_specs(settings.sources_dir):
        spec = loaded.spec
        if feeds and spec.key not in feeds:
            continue
        report = simulator.simulate(spec, start, end, fault_rate=fault_rate)
        if not report.deliveries:
            continue
        partitions_def = partitions_for(spec)
        keys = [k for k in partitions_def.get_partition_keys() if start.isoformat() <= k < end.isoformat()]
        feed = defs.resolve_assets_def(dg.AssetKey(table_key(RAW, spec)))
        result = dg.materialize(
            [feed],
            instance=instance,
            tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        checks = result.get_asset_check_evaluations()
        selection = PartitionSelection.of_keys(keys)
        landed = table_key(LANDED, spec)
        summaries.append(
            FeedSummary(
                feed=spec.key,
                partitions=len(lake.counts_by_partition(landed, selection)),
                rows_raw=lake.count(table_key(RAW, spec), selection),
                rows_transformed=lake.count(table_key(TRANSFORMED, spec), selection),
                rows_quarantined=lake.count(table_key(QUARANTINE, spec), selection),
                checks_passed=sum(c.passed for c in checks),
                checks_failed=sum(not c.passed for c in checks),
                success=result.success,
            )
        )
    return summaries


def format_masking(specs: list) -> str:
    """What the transformed layer did with each PHI column (the values stay in raw, the PHI zone)."""
    lines = ["PHI in transformed (raw and quarantine keep the delivered values):"]
    for spec in specs:
        masked = [f"{spec.transformed_names[c.name]}: {spec.masking_of(c).value}" for c in spec.columns if c.phi]
        if masked:
            lines.append(f"  {spec.key:24} " + ", ".join(masked))
    return "\n".join(lines)


def format_summary(summaries: list[FeedSummary]) -> str:
    header = ("feed", "partitions", "raw rows", "transformed", "quarantined", "check results ok", "failed", "run")
    rows = [
        (s.feed, s.partitions, s.rows_raw, s.rows_transformed, s.rows_quarantined, s.checks_passed, s.checks_failed,
         "ok" if s.success else "FAILED")
        for s in summaries
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])
