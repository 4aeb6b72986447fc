"""The lake: Delta tables and landed files under one root (a local folder by default, S3 later).

Every table carries a `_partition` string column holding the Dagster partition key of its rows.
Writes replace exactly the selected partitions in one atomic Delta commit (an overwrite with a
predicate), so re-running a partition is idempotent and a crash leaves the table unchanged.
Reads select rows by the same predicate, which is what makes every edge correct: same cadence,
a coarser downstream (daily rows inside a monthly window), an unpartitioned downstream (all
rows), and a range of partitions in one run.

Concurrent writers are safe (see `resources/delta_files.py`): a table is created atomically, a
write of other partitions never conflicts, and a race for the same partitions ends with exactly
one writer's rows (the loser is retried with backoff, then fails with `LakeWriteConflict`).

Every reader goes through the Delta log's list of files (`scan`, `files`), never the folder: a write
killed mid-way leaves uncommitted Parquet files in the partition folders, which a folder reader would
count. `vacuum` deletes them once older than the retention period; landed's partial copies
(`.incoming-*`) are removed by the next landed run (`remove_partial_copies`). A scheduled maintenance
job (a daily schedule in the code location calling `vacuum` for every table key of the loaded specs)
would go beside the automation sensor in `platform_assets/`; there is none yet.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from pydantic import Field

from carelake.names import PARTITION_COLUMN
from carelake.spec.windows import KEY_FORMAT
from resources.delta_files import (
    CommitRetries,
    LakeWriteConflict,
    PartitionOverwrite,
    SchemaChangeRefused,
    committed,
    create_table,
    delta_errors,
    schema_evolution,
)
from resources.selection import PartitionSelection

__all__ = ["DeltaLake", "LakeWriteConflict", "SchemaChangeRefused", "StoredFile", "Vacuumed"]

def _partition_filters(selection: PartitionSelection) -> list[tuple] | None:
    """The selection as delta-rs partition filters (None: every partition)."""
    if selection.keys is not None:
        return [(PARTITION_COLUMN, "in", list(selection.keys) or ["\0"])]
    filters = []
    if selection.start is not None:
        filters.append((PARTITION_COLUMN, ">=", selection.start))
    if selection.end is not None:
        filters.append((PARTITION_COLUMN, "<", selection.end))
    return filters or None


def selection_of(partitions_def: dg.PartitionsDefinition, keys: list[str]) -> PartitionSelection:
    """The lake selection for partition keys: the covering time range, or the keys themselves."""
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        start = partitions_def.time_window_for_partition_key(keys[0]).start
        end = partitions_def.time_window_for_partition_key(keys[-1]).end
        return PartitionSelection.key_range(start.strftime(KEY_FORMAT), end.strftime(KEY_FORMAT))
    return PartitionSelection.of_keys(keys)


_S3_COMMIT_GUARDS = {"conditional_put", "aws_conditional_put", "aws_s3_locking_provider", "locking_provider"}
INCOMING_PREFIX = ".incoming-"
# A partial copy whose writer holds no lock is removed once it is this old (the lock is taken right
# after the file is created; the delay covers that instant, and file systems without flock).
PARTIAL_COPY_GRACE_SECONDS = 60.0


class DeltaLake(dg.ConfigurableResource):
    """Delta tables and landed files under `root` (a folder path, or later an s3:// URI)."""

    root: str = Field(description="lake root folder or URI")
    storage_options: dict[str, str] = Field(default_factory=dict, description="delta-rs storage options")
    commit_retries: int = Field(
        default=5, ge=0, description="retries of a commit that lost a race to another run writing the same partitions"
    )
    commit_backoff_seconds: float = Field(
        default=0.25, gt=0, description="first retry delay; doubled per retry (jittered, at most 8 s)"
    )
    vacuum_retention_hours: int | None = Field(
        default=None, ge=0,
        description="how old an unreferenced file must be before `vacuum` deletes it (default: the table's "
        "delta.deletedFileRetentionDuration, 168 hours unless set); must exceed the longest write",
    )

    @property
    def _options(self) -> dict[str, str] | None:
        options = dict(self.storage_options)
        if self.root.startswith(("s3://", "s3a://")) and not {k.lower() for k in options} & _S3_COMMIT_GUARDS:
            # A log version must be put-if-absent for concurrent writers (two creators of version 0 both
            # "succeed" otherwise): S3 (since 2024) and S3-compatible servers do conditional PUTs.
            options["conditional_put"] = "etag"
        return options or None

    @property
    def _retries(self) -> CommitRetries:
        return CommitRetries(retries=self.commit_retries, base_seconds=self.commit_backoff_seconds)

    def table_uri(self, key: dg.AssetKey | Sequence[str]) -> str:
        path = key.path if isinstance(key, dg.AssetKey) else list(key)
        return "/".join([self.root.rstrip("/"), *path])

    def exists(self, key: dg.AssetKey | Sequence[str]) -> bool:
        return DeltaTable.is_deltatable(self.table_uri(key), storage_options=self._options)

    def replace(self, key: dg.AssetKey | Sequence[str], data: pl.DataFrame | pa.Table, selection: PartitionSelection) -> int:
        """Atomically replace the selected partitions of a table with `data`; returns rows written.

        Every row must fall inside the selection (checked here, so the error never previews rows).
        Writing an empty frame clears the selected partitions.
        """
        frame = data if isinstance(data, pl.DataFrame) else pl.from_arrow(data)
        if PARTITION_COLUMN not in frame.columns:
            raise ValueError(f"{self.table_uri(key)}: data to write needs a {PARTITION_COLUMN!r} column")
        outside = frame.filter(~selection.expr()).height
        if outside:
            raise ValueError(
                f"{self.table_uri(key)}: {outside} rows have a {PARTITION_COLUMN} outside {selection}; "
                "the writer must only produce rows for the partitions it was asked for"
            )
        table, uri, options, described = frame.to_arrow(), self.table_uri(key), self._options, str(selection)

        def attempt() -> None:
            # The schema policy of the latest version, checked again on every retry.
            schema_mode = schema_evolution(uri, table.schema, PARTITION_COLUMN, selection.contains, described, options)
            write_deltalake(
                uri,
                table,
                mode="overwrite",
                # A schema overwrite replaces every partition the table has (checked), so no predicate.
                predicate=None if schema_mode == "overwrite" else selection.predicate(),
                schema_mode=schema_mode,
                partition_by=[PARTITION_COLUMN],
                storage_options=options,
            )

        with delta_errors(uri, described):
            # Created on its own, atomically: a predicate write then conflicts with a concurrent write of the
            # same partitions (retried; the data is written again) and is rebased over other partitions' writes.
            create_table(uri, table.schema, PARTITION_COLUMN, options)
            committed(attempt, self._retries, uri, described)
        return frame.height

    def replace_stream(
        self, key: dg.AssetKey | Sequence[str], schema: pa.Schema, batches: Iterable[pa.RecordBatch], selection: PartitionSelection
    ) -> int:
        """`replace` for data that does not fit in memory: batches are streamed into one atomic commit.

        An exception raised by the batch source aborts the write (nothing is committed, no file is
        left behind) and is re-raised unchanged.
        """
        with self.overwrite(key, schema, selection) as staged:
            staged.write(batches)
            return staged.commit()

    @contextmanager
    def overwrite(
        self, key: dg.AssetKey | Sequence[str], schema: pa.Schema, selection: PartitionSelection, stats_columns: Collection[str] = (),
    ) -> Iterator[PartitionOverwrite]:
        """New files for the selected partitions of a table, from polars sinks or Arrow batches.

        `commit()` replaces the selected partitions with them in one transaction; leaving the block
        without committing deletes them. Rows for a partition outside the selection are refused at
        commit, without showing them. `stats_columns`: the columns whose bounds the Delta log records
        for file skipping (`resources/delta_stats.py`); never a column holding clear PHI.
        """
        uri = self.table_uri(key)
        staged = PartitionOverwrite(
            uri, schema, PARTITION_COLUMN, filters=_partition_filters(selection), predicate=selection.predicate(),
            allowed=selection.contains, described=str(selection), storage_options=self._options, retries=self._retries,
            stats_columns=stats_columns,
        )
        with staged:
            yield staged

    def scan(self, key: dg.AssetKey | Sequence[str], selection: PartitionSelection) -> pl.LazyFrame:
        """Lazily read the selected partitions of a table; raises if the table was never written."""
        uri = self.table_uri(key)
        if not self.exists(key):
            raise FileNotFoundError(f"{uri}: no Delta table yet; materialize it before reading it")
        frame = pl.scan_delta(uri, storage_options=self._options)
        return frame if selection.is_everything else frame.filter(selection.expr())

    def files(self, key: dg.AssetKey | Sequence[str], selection: PartitionSelection) -> list[str]:
        """URIs of the Parquet files the Delta log lists for the selected partitions: what another engine
        (Spark, DuckDB, a plain Parquet reader) must read, never the table's folder, which can hold
        uncommitted files of a killed write. Rows of the partition column are in the folder names."""
        uri = self.table_uri(key)
        if not self.exists(key):
            raise FileNotFoundError(f"{uri}: no Delta table yet; materialize it before reading it")
        table = DeltaTable(uri, storage_options=self._options)
        filters = None if selection.is_everything else _partition_filters(selection)
        return table.file_uris(filters)

    def read(self, key: dg.AssetKey | Sequence[str], selection: PartitionSelection) -> pl.DataFrame:
        return self.scan(key, selection).collect()

    def count(self, key: dg.AssetKey | Sequence[str], selection: PartitionSelection) -> int:
        """Rows in the selected partitions (0 if the table was never written)."""
        return sum(self.counts_by_partition(key, selection).values())

    def counts_by_partition(self, key: dg.AssetKey | Sequence[str], selection: PartitionSelection) -> dict[str, int]:
        """Rows per partition key among the selected partitions; partitions without rows are absent."""
        if not self.exists(key):
            return {}
        return dict(self.scan(key, selection).group_by(PARTITION_COLUMN).len().collect().iter_rows())

    def file_path(self, *parts: str) -> Path:
        """A path for landed files under the lake root (local roots only until the S3 issue)."""
        return Path(self.root, *parts)

    def store_file(self, source: Path, folder: Sequence[str]) -> StoredFile:
        """Copy a file byte for byte into `folder/<sha256>/<name>` under the root.

        Content-addressed, so a re-delivery with new content lands beside the old version
        instead of replacing it, and storing the same bytes twice is a no-op.
        """
        digest = hashlib.sha256()
        incoming = self.file_path(*folder, f"{INCOMING_PREFIX}{uuid.uuid4().hex}")
        incoming.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with source.open("rb") as src, incoming.open("wb") as dst:
                # Held until the copy ends or the process dies (even by SIGKILL): an unlocked partial
                # copy has no writer left, and `remove_partial_copies` deletes it.
                fcntl.flock(dst.fileno(), fcntl.LOCK_EX)
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            final = self.file_path(*folder, digest.hexdigest(), source.name)
            final.parent.mkdir(parents=True, exist_ok=True)
            incoming.replace(final)
        finally:
            incoming.unlink(missing_ok=True)
        return StoredFile(final, digest.hexdigest(), size)

    def remove_partial_copies(self, folder: Sequence[str], grace_seconds: float = PARTIAL_COPY_GRACE_SECONDS) -> list[Path]:
        """Delete the partial copies (`.incoming-*`) a killed `store_file` left under `folder`; returns them.

        A copy in progress holds a lock on its file and is kept, as is any copy younger than
        `grace_seconds`. Landed calls this at the start of each run, so the next run cleans up.
        """
        base = self.file_path(*folder)
        removed = []
        for path in sorted(base.rglob(f"{INCOMING_PREFIX}*")) if base.is_dir() else []:
            try:
                if time.time() - path.stat().st_mtime < grace_seconds or _copy_in_progress(path):
                    continue
                path.unlink()
            except FileNotFoundError:
                continue  # finished (renamed) or removed by another run meanwhile
            removed.append(path)
        return removed

    def vacuum(self, key: dg.AssetKey | Sequence[str], retention_hours: int | None = None) -> Vacuumed:
        """Delete the table's files that no version in the retention period references, and partial copies.

        Files a killed write left uncommitted, and files replaced by later writes, are deleted once
        older than the retention period: `retention_hours`, else the resource's
        `vacuum_retention_hours`, else the table's `delta.deletedFileRetentionDuration` (Delta's
        default, 168 hours). A concurrent write's staged files are unreferenced until it commits, so the
        retention must exceed the longest write (a commit whose staged files were vacuumed fails
        rather than commit them). Time travel reaches back as far as the retention period.
        """
        uri = self.table_uri(key)
        if not self.exists(key):
            return Vacuumed(uri, [], [])
        retention = retention_hours if retention_hours is not None else self.vacuum_retention_hours
        if retention is not None and retention < 0:
            raise ValueError(f"{uri}: retention_hours must be >= 0, got {retention}")
        table = DeltaTable(uri, storage_options=self._options)
        with delta_errors(uri, "vacuum"):
            deleted = table.vacuum(
                retention_hours=retention, dry_run=False, full=True,
                # An explicit retention is the operator's; the default comes from the table itself.
                enforce_retention_duration=retention is None,
            )
        partial = self.remove_partial_copies([*self._key_path(key), "_files"]) if "://" not in uri else []
        return Vacuumed(uri, sorted(deleted), partial)

    @staticmethod
    def _key_path(key: dg.AssetKey | Sequence[str]) -> list[str]:
        return key.path if isinstance(key, dg.AssetKey) else list(key)


def _copy_in_progress(path: Path) -> bool:
    """Whether a live `store_file` holds the lock on this partial copy."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Vacuumed:
    """What `vacuum` deleted: table files (relative to `uri`) and partial landed copies."""

    uri: str
    files: list[str]
    partial_copies: list[Path]


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size: int
