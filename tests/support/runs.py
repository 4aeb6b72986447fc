"""Runs: a feed's assets built from the test's sources, materialized through Dagster for a partition or a
range, a sensor tick evaluated the way the daemon does, every step failure's message, lake row counts."""

from __future__ import annotations

import dagster as dg
import polars as pl

from carelake.names import QUARANTINE, table_key
from carelake.settings import Settings
from carelake.spec import SourceSpec
from platform_assets.assembly import build_definitions
from platform_assets.feeds import asset_key
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


def feed_def(settings: Settings, provider: str, table: str) -> tuple[dg.Definitions, dg.AssetsDefinition]:
    defs = build_definitions(settings)
    return defs, defs.resolve_assets_def(dg.AssetKey(["raw", provider, table]))


def materialize(
    assets: dg.AssetsDefinition, instance: dg.DagsterInstance, *, partition: str | None = None,
    layers: tuple[str, ...] = ("landed", "raw", "transformed"), tags: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Run selected layers of a feed (and their checks) through Dagster for one partition."""
    provider, table = next(iter(assets.keys)).path[1:]
    selection = dg.AssetSelection.assets(*[[layer, provider, table] for layer in layers])
    return dg.materialize(
        [assets], instance=instance, partition_key=partition, selection=selection, tags=tags, raise_on_error=False
    )


def materialize_range(assets: dg.AssetsDefinition, instance: dg.DagsterInstance, first: str, last: str,
                      layers: tuple[str, ...] = ("landed", "raw", "transformed")) -> dg.ExecuteInProcessResult:
    """The same for the partitions from `first` to `last` in one run, as a single-run backfill launches it."""
    range_tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return materialize(assets, instance, layers=layers, tags=range_tags)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure's message, with its chain of causes."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error is not None:
                lines.append(error.message)
                error = error.cause
    return "\n".join(lines)


def run_request(assets: dg.AssetsDefinition, instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Execute a sensor's run request the way the daemon would launch it."""
    return dg.materialize([assets], instance=instance, partition_key=request.partition_key,
                          selection=list(request.asset_selection), tags=dict(request.tags), raise_on_error=False)


def requested_partitions(result) -> dict[str, set[str]]:  # noqa: ANN001 - an automation evaluation's result
    """What an automation evaluation requested: 'layer/provider/table' -> partition keys."""
    return {
        "/".join(r.key.path): set(r.true_subset.expensively_compute_partition_keys())
        for r in result.results
        if r.true_subset.size
    }


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):  # noqa: ANN201 - SensorExecutionData (not public)
    """Evaluate a sensor the way the daemon does, from a stored cursor, with the resources it declares."""
    resources = {"landing": defs.resources["landing"], "lake": defs.resources["lake"]}
    context = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs,
                                      sensor_name=name, resources=resources)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def count(lake: DeltaLake, key, selection: PartitionSelection | None = None) -> int:  # noqa: ANN001
    if not lake.exists(key):
        return 0
    return lake.scan(key, selection or PartitionSelection.everything()).select(pl.len()).collect().item()


def layer_counts(lake: DeltaLake, spec: SourceSpec) -> tuple[int, int]:
    """(raw rows, quarantined rows) of a feed over all partitions."""
    return count(lake, asset_key("raw", spec)), count(lake, table_key(QUARANTINE, spec))
