"""An IO manager over the lake's Delta tables, for assets written as plain Python functions
(projections, marts): they return a polars DataFrame and receive their inputs as DataFrames.

Unlike the stock DeltaLakePolarsIOManager it selects upstream rows by the whole mapped window, so a
monthly asset reading a daily table gets every day of the month, an unpartitioned asset gets every
partition, and a range run writes and reads the whole range.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
from pydantic import Field

from carelake.names import PARTITION_COLUMN
from resources.lake import DeltaLake, selection_of
from resources.selection import PartitionSelection


def _selection(context: dg.InputContext | dg.OutputContext) -> PartitionSelection:
    if not context.has_asset_partitions:
        return PartitionSelection.everything()
    keys = list(context.asset_partition_keys)
    if isinstance(context, dg.InputContext):
        step = context.step_context
        if step.entity_partitions_def is None and step.has_partitions:
            # An unpartitioned check on a partitioned asset: Dagster maps it to every partition,
            # but it runs for the run's partitions and must see exactly those.
            keys = list(context.asset_partitions_def.get_partition_keys_in_range(step.partition_key_range))
    return selection_of(context.asset_partitions_def, keys)


class DeltaIOManager(dg.ConfigurableIOManager):
    """Stores each asset as the Delta table `<root>/<asset key path>`, partition by partition."""

    root: str = Field(description="lake root folder or URI")
    storage_options: dict[str, str] = Field(default_factory=dict)

    @property
    def _lake(self) -> DeltaLake:
        return DeltaLake(root=self.root, storage_options=self.storage_options)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame | None) -> None:
        if obj is None:
            return
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        selection = _selection(context)
        if PARTITION_COLUMN not in frame.columns:
            if not context.has_asset_partitions:
                frame = frame.with_columns(pl.lit("__all__").alias(PARTITION_COLUMN))
            elif len(context.asset_partition_keys) == 1:
                frame = frame.with_columns(pl.lit(context.asset_partition_keys[0]).alias(PARTITION_COLUMN))
            else:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: a run over {len(context.asset_partition_keys)} partitions "
                    f"must return a {PARTITION_COLUMN!r} column saying which partition each row belongs to"
                )
        rows = self._lake.replace(context.asset_key, frame, selection)
        context.add_output_metadata({"dagster/row_count": rows, "table_uri": self._lake.table_uri(context.asset_key)})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        return self._lake.read(context.asset_key, _selection(context))
