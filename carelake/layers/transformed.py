"""The transformed layer: raw rows mapped to the common model (`target` names), de-duplicated by
primary key (the last delivered row of a key wins within a partition)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from carelake.layers import LayerResult
from carelake.names import (
    FILE_COLUMN,
    LINE_COLUMN,
    PARTITION_COLUMN,
    RAW,
    TRANSFORMED,
    table_key,
)
from carelake.spec import SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake


def run_transformed(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake) -> LayerResult:
    """Map raw rows to the common model, de-duplicated by primary key."""
    raw = lake.read(table_key(RAW, spec), selection)
    frame = to_transformed(spec, raw.lazy()).collect()
    lake.replace(table_key(TRANSFORMED, spec), frame, selection)
    before, after = (dict(f.group_by(PARTITION_COLUMN).len().iter_rows()) for f in (raw, frame))
    return LayerResult(
        frame.height, {key: {"rows": after.get(key, 0), "duplicates_removed": n - after.get(key, 0)} for key, n in sorted(before.items())}
    )


def to_transformed(spec: SourceSpec, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Rename to the common model and keep the last delivered row per primary key in each partition."""
    names = spec.transformed_names
    frame = raw.sort(PARTITION_COLUMN, FILE_COLUMN, LINE_COLUMN).rename(names)
    if spec.primary_key:
        keys = [PARTITION_COLUMN, *[names[k] for k in spec.primary_key]]
        frame = frame.unique(subset=keys, keep="last", maintain_order=True)
    return frame
