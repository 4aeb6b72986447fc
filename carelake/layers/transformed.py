"""The transformed layer: raw rows mapped to the common model (`target` names), de-duplicated by
primary key (the last delivered row of a key wins within a partition: the largest file name, then
line), with every PHI column masked as the spec says (`carelake/privacy/masking.py`): transformed
holds no PHI, and neither do its Delta statistics (every column's bounds, for file skipping: masked values).

It runs as a stream, like raw: memory is bounded by polars' streaming engine and the
de-duplication bound (`carelake/layers/duplicates.py`), not by the partition's size.
1. Which keys repeat, and which row of each wins, from the key columns, `_file` and `_line` only.
2. One streaming query per hash bucket (one in all but pathological cases) reads raw, drops the
   losing rows (a join with the duplicated keys only), renames, masks (inside the polars engine)
   and sinks new Parquet files into the table; the lake commits them in one transaction that
   replaces the selected partitions (`DeltaLake.overwrite`), or deletes them if anything fails.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from carelake.errors import without_values
from carelake.layers import LayerResult
from carelake.layers.duplicates import HASH_COLUMN, KEYS_PER_BUCKET, WINNER_COLUMN, Duplicates, duplicated_keys, key_hash
from carelake.names import FILE_COLUMN, LINE_COLUMN, PARTITION_COLUMN, RAW, TRANSFORMED, table_key
from carelake.privacy.masking import KEY_VERSION_COLUMN, Tokens, has_tokens, local_date, masked
from carelake.spec import ColumnType, SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake

_ORDER_COLUMN = "_delivery_order"


class KeyVersionMixed(RuntimeError):
    """A partial rewrite would leave one transformed table with tokens of two key versions."""


def run_transformed(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake, tokens: Tokens) -> LayerResult:
    """Map raw rows to the common model, de-duplicated by primary key, PHI masked, as a stream into one commit."""
    target, source = table_key(TRANSFORMED, spec), table_key(RAW, spec)
    if has_tokens(spec):
        _refuse_mixed_key_versions(spec, lake, target, selection, tokens.version)
    raw = lake.scan(source, selection)
    before = lake.counts_by_partition(source, selection)
    schema = mapped(spec, raw, tokens).head(0).collect().to_arrow().schema
    with tempfile.TemporaryDirectory(prefix="carelake-transformed-") as spill, lake.overwrite(target, schema, selection, schema.names) as staged:
        try:
            for stream in deduplicated(spec, raw, sum(before.values()), Path(spill)):
                pl.collect_all([staged.sink(mapped(spec, stream, tokens))])
        except pl.exceptions.PolarsError as exc:
            # Polars quotes values in some messages (casts, plugins): raw holds PHI, so none may pass.
            raise RuntimeError(f"{spec.key}: the transformed layer failed for {selection}: {without_values(exc, 200)}") from None
        rows = staged.commit()
        after = Counter()
        for file in staged.files:
            after[file.partition] += file.rows
    return LayerResult(
        rows, {key: {"rows": after.get(key, 0), "duplicates_removed": n - after.get(key, 0)} for key, n in sorted(before.items())}
    )


def deduplicated(
    spec: SourceSpec, raw: pl.LazyFrame, rows: int, spill: Path, per_bucket: int = KEYS_PER_BUCKET
) -> list[pl.LazyFrame]:
    """Raw rows without the rows a later delivery of their key replaced, as lazy frames to stream one
    after another (their union is the result). `rows`: how many rows `raw` has; `spill`: a folder for
    temporary files, which must outlive the frames; `per_bucket`: the de-duplication's memory bound
    (`carelake/layers/duplicates.py`)."""
    if not spec.primary_key:
        return [raw]
    keys = [PARTITION_COLUMN, *spec.primary_key]
    # One scan of `_file`, made only when some key repeats.
    order = functools.cache(lambda: _delivery_order(raw))
    duplicates = duplicated_keys(raw, keys, rows, spill, order, per_bucket)
    if not duplicates.keys:
        return [raw]
    return [_winners_only(raw, keys, order(), duplicates, bucket) for bucket in range(duplicates.buckets)]


def _winners_only(raw: pl.LazyFrame, keys: list[str], order: pl.Expr, duplicates: Duplicates, bucket: int) -> pl.LazyFrame:
    """The rows of one hash bucket whose key is not duplicated or that are their key's winner."""
    frame = raw.with_columns(order.alias(_ORDER_COLUMN))
    if duplicates.buckets > 1:
        frame = frame.filter(key_hash(keys) % duplicates.buckets == bucket)
    winners = duplicates.in_bucket(bucket).select(*keys, WINNER_COLUMN)
    # The duplicated keys are the small side (bounded per bucket): they are the join's hash table.
    joined = frame.join(winners, on=keys, how="left", nulls_equal=True, build_side="force_right")
    kept = joined.filter(pl.col(WINNER_COLUMN).is_null() | (pl.col(_ORDER_COLUMN) == pl.col(WINNER_COLUMN)))
    return kept.drop(_ORDER_COLUMN, WINNER_COLUMN, HASH_COLUMN, strict=False)


def _delivery_order(raw: pl.LazyFrame) -> pl.Expr:
    """Which row of a key was delivered last, as one Int64: the file's rank by name, then the line."""
    files = raw.select(pl.col(FILE_COLUMN).unique()).collect(engine="streaming").to_series().drop_nulls().sort().to_list()
    rank = pl.col(FILE_COLUMN).replace_strict(files, list(range(len(files))), default=-1, return_dtype=pl.Int64)
    return rank * (1 << 32) + pl.col(LINE_COLUMN).cast(pl.Int64)


def mapped(spec: SourceSpec, raw: pl.LazyFrame, tokens: Tokens) -> pl.LazyFrame:
    """Raw rows renamed to the common model with every PHI column masked (row by row: streams as is)."""
    names = spec.transformed_names
    frame = raw.rename(names)
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
