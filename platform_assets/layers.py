"""What each layer does for a set of partitions: landed copies files, raw types them, transformed
maps them to the common model. Each function reads its input from the lake and writes its output
back in one atomic commit per table, and returns the numbers reported as Dagster metadata."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl

from platform_assets.coercion import to_transformed
from platform_assets.errors import MissingDeliveryError
from platform_assets.ingest import ingest
from platform_assets.lateness import expected_delivery, hours_late
from platform_assets.partitions import window_of
from platform_assets.patterns import compile_pattern
from platform_assets.readers import LINE_COLUMN
from platform_assets.spec import Cadence, SourceSpec
from platform_assets.versions import already_landed, current_files, next_version
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection
from resources.channels import Channels

LANDED_SCHEMA = {
    PARTITION_COLUMN: pl.String,
    "file_name": pl.String,
    "delivered_for": pl.Date,
    "source_path": pl.String,
    "lake_path": pl.String,
    "sha256": pl.String,
    "size_bytes": pl.Int64,
    "landed_at": pl.Datetime("us", "UTC"),
    "version": pl.Int64,
    "delivered_at": pl.Datetime("us", "UTC"),
    "fingerprint": pl.String,
}


def asset_key(layer: str, spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey([layer, spec.provider, spec.table])


def quarantine_key(spec: SourceSpec) -> list[str]:
    return ["quarantine", spec.provider, spec.table]


@dataclass
class LayerResult:
    rows: int
    metadata: dict = field(default_factory=dict)
    changed: bool = True


def run_landed(
    spec: SourceSpec,
    partitions_def: dg.PartitionsDefinition,
    keys: list[str],
    selection: PartitionSelection,
    lake: DeltaLake,
    landing: Channels,
) -> LayerResult:
    """Copy every delivered file for the partitions into the lake, with sha256, and record a manifest.

    A re-delivered file with new bytes lands as a new version beside the old one; the same
    bytes again change nothing (`changed=False`, so nothing downstream re-runs).
    """
    pattern = compile_pattern(spec.delivery.file_pattern)
    channel = spec.delivery.channel
    delivered = [f for f in landing.list(channel).files if pattern.match(f.name)]
    landed = asset_key("landed", spec)
    manifest = lake.read(landed, selection) if lake.exists(landed) else pl.DataFrame(schema=LANDED_SCHEMA)
    manifest = manifest.with_columns(
        [pl.lit(None, dtype).alias(name) for name, dtype in LANDED_SCHEMA.items() if name not in manifest.columns]
    ).select(list(LANDED_SCHEMA))
    rows, late_files, redelivered = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="carelake-fetch-") as tmp:
        for key in keys:
            if spec.cadence is Cadence.adhoc:
                files = [f for f in delivered if f.name == key]
            else:
                start, end = window_of(partitions_def, key)
                files = [f for f in delivered if (d := pattern.date_of(f.name)) is not None and start <= d < end]
            if not files and manifest.filter(pl.col(PARTITION_COLUMN) == key).is_empty():
                raise MissingDeliveryError(
                    f"{spec.key}: no delivery for partition {key} matching {spec.delivery.file_pattern!r} in "
                    f"{landing.describe(channel)}. Fix: wait for the provider's file, or check the file name against "
                    "the spec's file_pattern"
                )
            expected = expected_delivery(spec, partitions_def, key)
            for file in files:
                if already_landed(manifest, key, file.name, file.fingerprint):
                    continue  # the channel says these are the bytes landed before: no download
                local = landing.fetch(channel, file.name, Path(tmp))
                stored = lake.store_file(local, ["landed", spec.provider, spec.table, "_files", key])
                if local.parent == Path(tmp):
                    local.unlink()
                version = next_version(manifest, key, file.name, stored.sha256)
                if version is None:
                    continue
                delivered_at = dt.datetime.fromtimestamp(file.modified, dt.UTC)
                late_files += hours_late(expected, delivered_at) > 0
                redelivered += version > 1
                rows.append(
                    {
                        PARTITION_COLUMN: key,
                        "file_name": file.name,
                        "delivered_for": pattern.date_of(file.name),
                        "source_path": f"{landing.describe(channel).rstrip('/')}/{file.name}",
                        "lake_path": str(stored.path),
                        "sha256": stored.sha256,
                        "size_bytes": stored.size,
                        "landed_at": dt.datetime.now(dt.UTC),
                        "version": version,
                        "delivered_at": delivered_at,
                        "fingerprint": file.fingerprint,
                    }
                )
    new = pl.DataFrame(rows, schema=LANDED_SCHEMA)
    if new.is_empty():
        return LayerResult(0, {"new_files": 0}, changed=False)
    lake.replace(landed, pl.concat([manifest, new]), selection)
    return LayerResult(
        new.height,
        {
            "files": new.height,
            "bytes": int(new["size_bytes"].sum()),
            "sha256": dg.MetadataValue.json({r["file_name"]: r["sha256"] for r in rows}),
            "new_versions": redelivered,
            "late_files": late_files,
        },
    )


def run_raw(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake) -> LayerResult:
    """Parse and type every landed file (newest version) of the partitions as a stream; failing rows go to quarantine."""
    manifest = current_files(lake.read(asset_key("landed", spec), selection))
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
