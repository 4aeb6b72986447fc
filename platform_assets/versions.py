"""Versions of landed files: a re-delivery with new content lands beside the old one, never over it."""

from __future__ import annotations

import polars as pl

from resources.lake import PARTITION_COLUMN

# Runs started by an arrival sensor carry this tag; if their files changed nothing, they stop after landed.
ARRIVAL_RUN_TAG = "carelake/arrival"


def current_files(manifest: pl.DataFrame) -> pl.DataFrame:
    """The newest version of every delivered file name of every partition (what raw is built from)."""
    if "version" not in manifest.columns or manifest.is_empty():
        return manifest
    return manifest.sort("version").group_by(PARTITION_COLUMN, "file_name", maintain_order=True).last()


def next_version(manifest: pl.DataFrame, partition: str, file_name: str, sha256: str) -> int | None:
    """The version number a delivered file gets, or None if these exact bytes already landed."""
    prior = manifest.filter((pl.col(PARTITION_COLUMN) == partition) & (pl.col("file_name") == file_name))
    if prior.is_empty():
        return 1
    if sha256 in prior["sha256"].to_list():
        return None
    return int(prior["version"].max()) + 1


def already_landed(manifest: pl.DataFrame, partition: str, file_name: str, fingerprint: str) -> bool:
    """True if this file, with this channel fingerprint (ETag, checksum or size+mtime), already landed."""
    return not manifest.filter(
        (pl.col(PARTITION_COLUMN) == partition) & (pl.col("file_name") == file_name) & (pl.col("fingerprint") == fingerprint)
    ).is_empty()
