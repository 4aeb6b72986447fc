"""Helpers for simulation tests: point a feed at another channel, run a window range through Dagster."""

from __future__ import annotations

import dagster as dg
import polars as pl
import yaml

from carelake.names import QUARANTINE, table_key
from platform_assets.feeds import asset_key
from carelake.settings import Settings
from carelake.spec import SourceSpec
from carelake.spec.loading import load_specs
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


def use_channel(settings: Settings, feed: str, channel: dict) -> None:
    """Rewrite a feed's YAML in the test's sources copy to deliver through `channel`."""
    path = settings.sources_dir / f"{feed}.yaml"
    body = yaml.safe_load(path.read_text())
    body["delivery"]["channel"] = channel
    path.write_text(yaml.safe_dump(body, sort_keys=False))


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):  # noqa: ANN201 - SensorExecutionData (not public)
    """Evaluate a sensor the way the daemon does, from a stored cursor, with the resources it declares."""
    resources = {"landing": defs.resources["landing"], "lake": defs.resources["lake"]}
    context = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs,
                                      sensor_name=name, resources=resources)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def spec_of(settings: Settings, feed: str) -> SourceSpec:
    return next(s.spec for s in load_specs(settings.sources_dir) if s.spec.key == feed)


def materialize_range(assets: dg.AssetsDefinition, instance: dg.DagsterInstance, first: str, last: str,
                      layers: tuple[str, ...] = ("landed", "raw", "transformed")) -> dg.ExecuteInProcessResult:
    provider, table = next(iter(assets.keys)).path[1:]
    return dg.materialize(
        [assets], instance=instance, raise_on_error=False,
        selection=dg.AssetSelection.assets(*[[layer, provider, table] for layer in layers]),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )


def count(lake: DeltaLake, key, selection: PartitionSelection | None = None) -> int:  # noqa: ANN001
    if not lake.exists(key):
        return 0
    return lake.scan(key, selection or PartitionSelection.everything()).select(pl.len()).collect().item()


def layer_counts(lake: DeltaLake, spec: SourceSpec) -> tuple[int, int]:
    """(raw rows, quarantined rows) of a feed over all partitions."""
    return count(lake, asset_key("raw", spec)), count(lake, table_key(QUARANTINE, spec))
