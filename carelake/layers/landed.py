"""The landed layer: every delivered file copied byte for byte into the lake (content-addressed,
sha256) with a Delta manifest. A re-delivery with new content lands beside the old one as a new
version, never over it; the same bytes again change nothing."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from carelake.errors import MissingDeliveryError
from carelake.layers import LayerResult
from carelake.names import LANDED, PARTITION_COLUMN, table_key
from carelake.spec import Cadence, SourceSpec
from carelake.spec.patterns import compile_pattern
from carelake.spec.windows import expected_delivery, hours_late, window_of
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.channels import Channels
    from resources.lake import DeltaLake

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


def run_landed(
    spec: SourceSpec,
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
    landed = table_key(LANDED, spec)
    lake.remove_partial_copies([*landed, "_files"])  # what a killed run's copies left behind
    manifest = lake.read(landed, selection) if lake.exists(landed) else pl.DataFrame(schema=LANDED_SCHEMA)
    manifest = manifest.with_columns(
        [pl.lit(None, dtype).alias(name) for name, dtype in LANDED_SCHEMA.items() if name not in manifest.columns]
    ).select(list(LANDED_SCHEMA))
    rows, late = [], set()
    with tempfile.TemporaryDirectory(prefix="carelake-fetch-") as tmp:
        for key in keys:
            if spec.cadence is Cadence.adhoc:
                files = [f for f in delivered if f.name == key]
            else:
                start, end = window_of(spec, key)
                files = [f for f in delivered if (d := pattern.date_of(f.name)) is not None and start <= d < end]
            if not files and manifest.filter(pl.col(PARTITION_COLUMN) == key).is_empty():
                raise MissingDeliveryError(
                    f"{spec.key}: no delivery for partition {key} matching {spec.delivery.file_pattern!r} in "
                    f"{landing.describe(channel)}. Fix: wait for the provider's file, or check the file name against "
                    "the spec's file_pattern"
                )
            expected = expected_delivery(spec, key)
            for file in files:
                if already_landed(manifest, key, file.name, file.fingerprint):
                    continue  # the channel says these are the bytes landed before: no download
                local = landing.fetch(channel, file.name, Path(tmp))
                stored = lake.store_file(local, [*landed, "_files", key])
                if local.parent == Path(tmp):
                    local.unlink()
                version = next_version(manifest, key, file.name, stored.sha256)
                if version is None:
                    continue
                delivered_at = dt.datetime.fromtimestamp(file.modified, dt.UTC)
                if hours_late(expected, delivered_at) > 0:
                    late.add((key, file.name))
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
        return LayerResult(0, {key: {"rows": 0, "files": 0} for key in keys}, changed=False)
    written = pl.concat([manifest, new])
    lake.replace(landed, written, selection)
    in_manifest = dict(written.group_by(PARTITION_COLUMN).len().iter_rows())
    partitions = {}
    for key in keys:
        mine = [r for r in rows if r[PARTITION_COLUMN] == key]
        partitions[key] = {
            "rows": in_manifest.get(key, 0),  # every landed file and version of the partition
            "files": len(mine),
            "bytes": sum(r["size_bytes"] for r in mine),
            "sha256": {r["file_name"]: r["sha256"] for r in mine},
            "new_versions": sum(r["version"] > 1 for r in mine),
            "late_files": sum((key, r["file_name"]) in late for r in mine),
        }
    return LayerResult(new.height, partitions)


def current_files(manifest: pl.DataFrame) -> pl.DataFrame:
    """The newest version of every delivered file name of every partition (what raw is built from)."""
    if "version" not in manifest.columns or manifest.is_empty():
        return manifest
    return manifest.sort("version").group_by(PARTITION_COLUMN, "file_name", maintain_order=True).last()


def next_version(manifest: pl.DataFrame, partition: str, file_name: str, sha256: str) -> int | None:
    """The version number a delivered file gets, or None if these are the bytes of its current version."""
    prior = manifest.filter((pl.col(PARTITION_COLUMN) == partition) & (pl.col("file_name") == file_name))
    if prior.is_empty():
        return 1
    latest = prior.sort("version").row(-1, named=True)
    if latest["sha256"] == sha256:
        return None
    # The newest delivery wins, even when it reverts to bytes an older version had.
    return int(latest["version"]) + 1


def already_landed(manifest: pl.DataFrame, partition: str, file_name: str, fingerprint: str) -> bool:
    """True if this file, with this channel fingerprint (ETag, checksum, or size, mtime and ctime), already landed."""
    return not manifest.filter(
        (pl.col(PARTITION_COLUMN) == partition) & (pl.col("file_name") == file_name) & (pl.col("fingerprint") == fingerprint)
    ).is_empty()
