"""The transformed layer: raw rows mapped to the common model (`target` names), de-duplicated by
primary key (the last delivered row of a key wins within a partition), with every PHI column masked
as the spec says (`carelake/privacy/masking.py`): transformed holds no PHI, and neither do its Delta
statistics."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from carelake.layers import LayerResult
from carelake.names import FILE_COLUMN, LINE_COLUMN, PARTITION_COLUMN, RAW, TRANSFORMED, table_key
from carelake.privacy.masking import KEY_VERSION_COLUMN, Tokens, has_tokens, local_date, masked
from carelake.spec import ColumnType, SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake


class KeyVersionMixed(RuntimeError):
    """A partial rewrite would leave one transformed table with tokens of two key versions."""


def run_transformed(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake, tokens: Tokens) -> LayerResult:
    """Map raw rows to the common model, de-duplicated by primary key, PHI masked."""
    target = table_key(TRANSFORMED, spec)
    if has_tokens(spec):
        _refuse_mixed_key_versions(spec, lake, target, selection, tokens.version)
    raw = lake.read(table_key(RAW, spec), selection)
    frame = to_transformed(spec, raw.lazy(), tokens).collect()
    lake.replace(target, frame, selection)
    before, after = (dict(f.group_by(PARTITION_COLUMN).len().iter_rows()) for f in (raw, frame))
    return LayerResult(
        frame.height, {key: {"rows": after.get(key, 0), "duplicates_removed": n - after.get(key, 0)} for key, n in sorted(before.items())}
    )


def to_transformed(spec: SourceSpec, raw: pl.LazyFrame, tokens: Tokens) -> pl.LazyFrame:
    """Rename to the common model, keep the last delivered row per primary key in each partition, mask PHI."""
    names = spec.transformed_names
    frame = raw.sort(PARTITION_COLUMN, FILE_COLUMN, LINE_COLUMN).rename(names)
    if spec.primary_key:
        keys = [PARTITION_COLUMN, *[names[k] for k in spec.primary_key]]
        frame = frame.unique(subset=keys, keep="last", maintain_order=True)
    reference = _reference_date(spec, names)
    masks = [masked(spec, c, pl.col(names[c.name]), tokens, reference).alias(names[c.name]) for c in spec.columns if c.phi]
    if has_tokens(spec):
        masks.append(pl.lit(tokens.version, pl.Int32).alias(KEY_VERSION_COLUMN))
    return frame.with_columns(masks) if masks else frame


def _reference_date(spec: SourceSpec, names: dict[str, str]) -> pl.Expr:
    """The date ages are taken on: the row's service date if the spec has one, else its window's start
    (an adhoc feed's rows: the day they are transformed)."""
    service = [c for c in spec.columns if c.semantic == "service_date" and c.type in (ColumnType.date, ColumnType.datetime)]
    window = pl.col(PARTITION_COLUMN).str.to_date("%Y-%m-%d", strict=False).fill_null(pl.lit(dt.date.today()))
    return pl.coalesce(local_date(spec, service[0], pl.col(names[service[0].name])).cast(pl.Date), window) if service else window


def _refuse_mixed_key_versions(
    spec: SourceSpec, lake: DeltaLake, target: tuple[str, ...], selection: PartitionSelection, version: int
) -> None:
    if not lake.exists(target):
        return
    others = lake.scan(target, PartitionSelection.everything()).filter(~selection.expr())
    if KEY_VERSION_COLUMN not in others.collect_schema().names():
        return  # written before tokens: the schema policy refuses the type change of a partial rewrite
    versions = set(others.select(pl.col(KEY_VERSION_COLUMN).unique()).collect().to_series().drop_nulls().to_list())
    if versions - {version}:
        raise KeyVersionMixed(
            f"{spec.key}: the transformed table's other partitions hold tokens of key version(s) {sorted(versions)}, this "
            f"run makes version {version}; tokens of two versions never join. Fix: re-materialize every partition of "
            "the feed in one run (a single-run backfill of the whole range) to re-tokenise it"
        )
