"""What each layer does for a set of partitions: landed copies files, raw types them, transformed
maps them to the common model. Each function reads its input from the lake and writes its output
back in one atomic commit per table, and returns the numbers reported as Dagster metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl

from platform_assets.coercion import to_transformed
from platform_assets.errors import MissingDeliveryError
from platform_assets.ingest import ingest
from platform_assets.partitions import window_of
from platform_assets.patterns import compile_pattern
from platform_assets.readers import LINE_COLUMN
from platform_assets.spec import Cadence, SourceSpec
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection
from resources.landing import LocalLanding

LANDED_SCHEMA = {
    PARTITION_COLUMN: pl.String,
    "file_name": pl.String,
    "delivered_for": pl.Date,
    "source_path": pl.String,
    "lake_path": pl.String,
    "sha256": pl.String,
    "size_bytes": pl.Int64,
    "landed_at": pl.Datetime("us", "UTC"),
}


def asset_key(layer: str, spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey([layer, spec.provider, spec.table])


def quarantine_key(spec: SourceSpec) -> list[str]:
    return ["quarantine", spec.provider, spec.table]


@dataclass
class LayerResult:
    rows: int
    metadata: dict = field(default_factory=dict)


def run_landed(
    spec: SourceSpec,
    partitions_def: dg.PartitionsDefinition,
    keys: list[str],
    selection: PartitionSelection,
    lake: DeltaLake,
    landing: LocalLanding,
) -> LayerResult:
    """Copy every delivered file for the partitions into the lake, with sha256, and record a manifest."""
    pattern = compile_pattern(spec.delivery.file_pattern)
    delivered = [p for p in landing.list_files(spec.delivery.channel) if pattern.match(p.name)]
    rows = []
    for key in keys:
        if spec.cadence is Cadence.adhoc:
            files = [p for p in delivered if p.name == key]
        else:
            start, end = window_of(partitions_def, key)
            files = [p for p in delivered if (d := pattern.date_of(p.name)) is not None and start <= d < end]
        if not files:
            where = landing.folder(spec.delivery.channel)
            raise MissingDeliveryError(
                f"{spec.key}: no delivery for partition {key} matching {spec.delivery.file_pattern!r} in {where}. "
                "Fix: wait for the provider's file, or check the file name against the spec's file_pattern"
            )
        for path in files:
            stored = lake.store_file(path, ["landed", spec.provider, spec.table, "_files", key])
            rows.append(
                {
                    PARTITION_COLUMN: key,
                    "file_name": path.name,
                    "delivered_for": pattern.date_of(path.name),
                    "source_path": str(path),
                    "lake_path": str(stored.path),
                    "sha256": stored.sha256,
                    "size_bytes": stored.size,
                    "landed_at": dt.datetime.now(dt.UTC),
                }
            )
    manifest = pl.DataFrame(rows, schema=LANDED_SCHEMA)
    lake.replace(asset_key("landed", spec), manifest, selection)
    return LayerResult(
        manifest.height,
        {
            "files": manifest.height,
            "bytes": int(manifest["size_bytes"].sum()),
            "sha256": dg.MetadataValue.json({r["file_name"]: r["sha256"] for r in rows}),
        },
    )


def run_raw(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake) -> LayerResult:
    """Parse and type every landed file of the partitions as a stream; failing rows go to quarantine."""
    manifest = lake.read(asset_key("landed", spec), selection)
    if manifest.is_empty():
        raise MissingDeliveryError(f"{spec.key}: nothing landed for {selection}; materialize the landed asset first")
    files = [
        (f[PARTITION_COLUMN], f["file_name"], Path(f["lake_path"]))
        for f in manifest.sort(PARTITION_COLUMN, "file_name").iter_rows(named=True)
    ]
    tally = ingest(spec, files, selection, lake, asset_key("raw", spec).path, quarantine_key(spec))
    return LayerResult(
        tally.rows_raw,
        {
            "rows_in": tally.rows_in,
            "rows_raw": tally.rows_raw,
            "rows_quarantined": tally.rows_quarantined,
            "quarantine_by_rule": dg.MetadataValue.json(dict(sorted(tally.by_rule.items()))),
            "quarantine_sample_masked": dg.MetadataValue.json(tally.sample),
            "schema_drift": dg.MetadataValue.json(tally.drift),
            "rows_by_partition": dg.MetadataValue.json({k: dict(v) for k, v in sorted(tally.by_partition.items())}),
            "files": manifest.height,
        },
    )


def run_transformed(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake) -> LayerResult:
    """Map raw rows to the common model, de-duplicated by primary key."""
    raw = lake.read(asset_key("raw", spec), selection)
    frame = to_transformed(spec, raw.lazy()).collect()
    lake.replace(asset_key("transformed", spec), frame, selection)
    return LayerResult(frame.height, {"duplicates_removed": raw.height - frame.height})


__all__ = ["LINE_COLUMN", "asset_key", "quarantine_key", "run_landed", "run_raw", "run_transformed"]
