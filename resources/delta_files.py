"""Streamed Delta overwrites with memory bounded by the writer, not the data: new Parquet files are
written into the table's partition folders (by polars streaming sinks, or from Arrow batches), then
committed in one transaction replacing the selected partitions. Files never committed are deleted.

Measured: delta-rs' own writer (`write_deltalake` with a RecordBatchReader and `partition_by`)
held memory growing with the input (1.7 GB at 1 GB of CSV, 2.3 GB at 2 GB); this path stays flat,
and a polars sink writes in parallel without a Python round trip per batch.
Local lake roots write in place; other roots stage the files locally and hand them to
`write_deltalake` at commit.

Concurrent writers (measured with two processes racing on one table, see tests/test_lake_concurrency.py):
- A table is created on its own, schema only, by a commit of version 0 that is never retried
  (`create_table`). delta-rs writes a log version with put-if-absent (a hard link on a local
  filesystem, a conditional PUT on S3 with `conditional_put=etag`), so exactly one creator wins;
  the others find the table and carry on. Left to itself, delta-rs retried a losing create at the
  next version: the table was created twice and both runs' rows were kept (2x the rows, no error).
- The staged commit (`create_write_transaction`) carries no read predicate, so delta-rs' conflict
  checker let a second overwrite of the same (empty) partition through beside the first, and
  raised "a concurrent transaction deleted data this operation read" for disjoint partitions.
  It is therefore made without delta-rs' retries: it applies exactly to the version it read, and a
  lost race is retried here (`committed`). A race lost to commits that touched none of this
  write's partitions is rebased at once (disjoint partitions never conflict); a race lost to a
  commit of the same partitions is retried on the new version, so the later writer's rows replace
  the partition. Each retry re-checks the schema policy against the version it commits on and
  recommits the same staged files; nothing is rewritten.
- `write_deltalake` with a predicate (`DeltaLake.replace`, and the commit of remote roots) is
  checked by delta-rs against that predicate: it rebases over other partitions' commits itself
  and raises `CommitFailedError` on a commit of the same partitions, retried by `committed` (the
  data is written again; the lost attempt's files are orphans for `vacuum`).
- A conflict is retried with jittered exponential backoff a bounded number of times, then fails
  with `LakeWriteConflict` naming the table, the partitions and the fix.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.schema import PrimitiveType
from deltalake.transaction import AddAction, CommitProperties

from carelake.errors import without_values
from resources.delta_stats import STATS_COLUMNS_PROPERTY, file_stats

ROWS_PER_FILE = 4_000_000
COMPRESSION = "snappy"


class LakeWriteConflict(RuntimeError):
    """Other runs kept replacing the same partitions while this write was retried; nothing of it was committed."""


def _conflict_fix(selected: str) -> str:
    return (
        f"Fix: let one run at a time materialize a feed's partition (the run queue's carelake/feed tag limit in "
        f"dagster.yaml), then re-materialize {selected} if its rows must come from this run"
    )


@contextmanager
def delta_errors(uri: str, selected: str) -> Iterator[None]:
    """delta-rs errors of a write to `uri` as errors that name the table and never show rows."""
    try:
        yield
    except CommitFailedError as exc:
        raise LakeWriteConflict(
            f"{uri}: another run committed to {selected} concurrently and nothing of this write was committed. "
            + _conflict_fix(selected)
        ) from exc
    except DeltaError as exc:
        # delta-rs previews offending rows and quotes values in its messages: they may hold PHI.
        raise RuntimeError(f"{uri}: Delta write failed: {without_values(exc, 300)}") from None


def plain_types(schema: pa.Schema) -> pa.Schema:
    """The schema with view / large string types as plain strings, which every Delta reader accepts."""
    fields = []
    for f in schema:
        if f.type in (pa.string_view(), pa.large_string()):
            f = f.with_type(pa.string())
        elif f.type in (pa.binary_view(), pa.large_binary()):
            f = f.with_type(pa.binary())
        fields.append(f)
    return pa.schema(fields)


class SchemaChangeRefused(ValueError):
    """A write that changes a table's schema while leaving partitions with the old schema behind."""


@dataclass(frozen=True)
class SchemaChange:
    """How a write's schema differs from its table's, compared as Delta types."""

    added: list[str]
    removed: list[str]
    retyped: list[str]

    @property
    def additive(self) -> bool:
        return not self.removed and not self.retyped

    def __str__(self) -> str:
        parts = [f"{label} {', '.join(names)}" for label, names in (
            ("added", self.added), ("removed", self.removed), ("retyped", self.retyped)) if names]
        return "; ".join(parts)


def schema_change(current: Schema, new: pa.Schema) -> SchemaChange | None:
    """What writing `new` would change in a table of schema `current`; None when nothing does.

    Column order does not matter (readers match by name). A new column is additive only when
    nullable: older files do not have it, so it reads as null there.
    """
    old = {f.name: f.type for f in current.fields}
    fields = {f.name: f for f in Schema.from_arrow(plain_types(new)).fields}
    change = SchemaChange(
        added=[n for n, f in fields.items() if n not in old and f.nullable],
        removed=[n for n in old if n not in fields],
        retyped=[f"{n} ({_type_name(old[n])} -> {_type_name(f.type)})" if n in old else f"{n} (new and not nullable)"
                 # An all-null column has no type of its own ("void"); the writer stores it as the table's.
                 for n, f in fields.items() if (n in old and f.type not in (old[n], _VOID)) or (n not in old and not f.nullable)],
    )
    return change if change.added or change.removed or change.retyped else None


_VOID = PrimitiveType("void")


def _type_name(t: object) -> str:
    return t.type if isinstance(t, PrimitiveType) else str(t)


def schema_evolution(uri: str, new: pa.Schema, column: str, allowed: Callable[[str], bool], described: str,
                     storage_options: dict[str, str] | None, table: DeltaTable | None = None) -> str | None:
    """The delta-rs `schema_mode` a write of `new` to the `allowed` partitions needs, or a refusal.

    - None: a new table, or the table's schema unchanged.
    - "merge": nullable columns added; the untouched partitions read them as null.
    - "overwrite": any other change, allowed only when every partition the table has is being
      rewritten (a full reload or a single-run backfill of the whole range).
    Otherwise the untouched partitions would keep files of the old schema and the table would no
    longer read as one, so the write is refused with what changed and what to do.
    `table`: the version the write will commit on (default: the latest).
    """
    if table is None:
        if not DeltaTable.is_deltatable(uri, storage_options=storage_options):
            return None
        table = DeltaTable(uri, storage_options=storage_options)
    change = schema_change(table.schema(), new)
    if change is None:
        return None
    if change.additive:
        return "merge"
    kept = sorted(v for v in {str(p[column]) for p in table.partitions()} if not allowed(v))
    if not kept:
        return "overwrite"
    raise SchemaChangeRefused(
        f"{uri}: this write changes the table's schema ({change}) but replaces only {described}; "
        f"{len(kept)} other partition(s) (e.g. {kept[0]}) would keep the old schema and the table could no longer be "
        "read as one. Either revert the spec change, or re-materialize every partition of the asset in one run "
        "(a backfill of the whole range as a single run), which rewrites them all with the new schema."
    )


def create_table(
    uri: str, schema: pa.Schema, column: str, storage_options: dict[str, str] | None, stats_columns: Collection[str] = (),
) -> None:
    """Create the table (version 0: schema and partitioning, no rows) unless it exists; safe under racing creators.
    `stats_columns`: the only columns whose bounds the Delta log may hold (`resources/delta_stats.py`), kept
    as the table property the remote path's writer takes them from; an existing table's is set to them
    when they changed (a spec whose PHI columns changed), so both commit paths use one list.

    The create is committed without retries: a creator that loses the put-if-absent of version 0
    fails, finds the winner's table and leaves it as it is (a retried create would be committed
    again at version 1, with the first writer's rows kept beside the second's).
    """
    wanted = ",".join(stats_columns)
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options):
        try:
            DeltaTable.create(
                uri, plain_types(schema), mode="error", partition_by=[column], storage_options=storage_options,
                configuration={STATS_COLUMNS_PROPERTY: wanted} if wanted else None,
                commit_properties=CommitProperties(max_commit_retries=0),
            )
            return
        except DeltaError:
            if not DeltaTable.is_deltatable(uri, storage_options=storage_options):
                raise  # not a lost race: delta_errors reports it without rows
    if wanted:
        table = DeltaTable(uri, storage_options=storage_options)
        if table.metadata().configuration.get(STATS_COLUMNS_PROPERTY) != wanted:
            table.alter.set_table_properties({STATS_COLUMNS_PROPERTY: wanted})


@dataclass(frozen=True)
class CommitRetries:
    """How a commit that lost a race to a commit of the same partitions is retried: `retries` times,
    after a jittered exponential backoff (half the delay fixed, half random, capped)."""

    retries: int = 5
    base_seconds: float = 0.25
    max_seconds: float = 8.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


# A commit that lost the version race to commits of other partitions only is rebased at once; this
# bounds how often in a row (a few writers per table race at most; this is a livelock guard).
MAX_REBASES = 100


class Rebase(Exception):
    """A commit lost the race for its version to commits that touched none of its partitions: commit again."""


def committed(attempt: Callable[[], None], retries: CommitRetries, uri: str, described: str) -> int:
    """Run `attempt` (one commit) until it commits; returns how many conflicts were retried.

    `Rebase` is retried at once; `CommitFailedError` (a commit of the same partitions won) after a
    backoff, `retries` times, then `LakeWriteConflict` names the table, the partitions and the fix.
    """
    conflicts = rebases = 0
    started = time.monotonic()
    while True:
        try:
            attempt()
            return conflicts
        except Rebase:
            rebases += 1
            if rebases > MAX_REBASES:
                raise LakeWriteConflict(
                    f"{uri}: {described} could not be committed: {rebases} commits in a row lost the race to other "
                    "writers of this table. " + _conflict_fix(described)
                ) from None
            time.sleep(random.uniform(0, 0.02))
        except CommitFailedError as exc:
            if conflicts >= retries.retries:
                raise LakeWriteConflict(
                    f"{uri}: {described} could not be committed: other runs replaced the same partitions at the same "
                    f"time, {conflicts + 1} attempts over {time.monotonic() - started:.1f}s. Nothing of this write was "
                    "committed; the partitions hold the other run's rows. " + _conflict_fix(described)
                ) from exc
            time.sleep(retries.delay(conflicts))
            conflicts += 1


@dataclass(frozen=True)
class StagedFile:
    relative: str
    partition: str
    rows: int
    size: int


class OutsideSelection(ValueError):
    """Rows for a partition the overwrite was not asked to replace (no values are shown)."""


class PartitionOverwrite:
    """New files for some partitions of a Delta table partitioned by `column`, committed at once.

    Use as a context manager: `sink` / `write` add files, `commit` replaces the partitions that
    match `filters` (the same selection as the SQL `predicate`) with exactly those files;
    leaving the block without a commit (or with an exception) deletes every file written. `allowed(value)` guards which partition values may be
    committed (`described` names them in the error), so a writer bug cannot overwrite a partition
    it was not asked for; the error counts rows and never shows them.
    """

    def __init__(
        self, uri: str, schema: pa.Schema, column: str, *, filters: list[tuple] | None, predicate: str,
        allowed: Callable[[str], bool], described: str, storage_options: dict[str, str] | None = None,
        retries: CommitRetries = CommitRetries(), stats_columns: Collection[str] = (),
    ):
        self.uri, self.column, self.filters, self.predicate = uri, column, filters, predicate
        self.stats_columns = [c for c in stats_columns if c != column]
        self.allowed, self.described = allowed, described
        self.storage_options, self.retries = storage_options, retries
        self.conflicts_retried = 0
        self.schema = plain_types(schema)
        self.file_schema = pa.schema([f for f in self.schema if f.name != column])
        self.local = "://" not in uri
        self._staging = None if self.local else tempfile.mkdtemp(prefix="carelake-staged-")
        self.root = Path(uri if self.local else self._staging)
        self.files: list[StagedFile] = []
        self._named: dict[str, str] = {}
        self._committed = False

    def __enter__(self) -> PartitionOverwrite:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.discard()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)

    def _new_file(self, value: str) -> str:
        relative = f"{self.column}={quote(value, safe='-_.')}/part-{uuid.uuid4().hex}.{COMPRESSION}.parquet"
        self._named[relative] = value
        return relative

    def sink(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """A lazy polars sink of `frame` (the schema's columns) into new files, to run with `pl.collect_all`."""

        def provide(args: pl.FileProviderArgs) -> str:
            return self._new_file(args.partition_keys.item(0, 0))

        def sinked(args) -> None:  # noqa: ANN001 - polars' SinkedPathsCallbackArgs
            # num_bytes is the file's size on disk (checked), which the Delta log must record exactly.
            for written in args.paths:
                relative = Path(written.path).relative_to(self.root).as_posix()
                self.files.append(StagedFile(relative, self._named[relative], written.num_rows, written.num_bytes))

        target = pl.PartitionBy(
            str(self.root), key=self.column, include_key=False, max_rows_per_file=ROWS_PER_FILE, file_path_provider=provide
        )
        # Unordered: rows keep `_line`, and an ordered sink buffered out-of-order morsels on a busy
        # machine (peak RSS 1.1 GB vs 0.75 GB on a 4 GB CSV, steady state the same).
        return frame.select(self.schema.names).sink_parquet(
            target, compression=COMPRESSION, mkdir=True, lazy=True, sinked_paths_callback=sinked, maintain_order=False
        )

    def write(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Write Arrow batches (with the partition column), one open file per partition at a time."""
        writers: dict[str, tuple[str, pq.ParquetWriter]] = {}
        counts: dict[str, int] = {}

        def close(value: str) -> None:
            relative, writer = writers.pop(value)
            writer.close()
            self.files.append(StagedFile(relative, value, counts.pop(value), (self.root / relative).stat().st_size))

        try:
            for batch in batches:
                table = pa.Table.from_batches([batch]).cast(self.schema)
                values = pc.unique(table[self.column]).to_pylist()
                for value in values:
                    part = table if len(values) == 1 else table.filter(pc.equal(table[self.column], value))
                    if value not in writers:
                        relative = self._new_file(value)
                        (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
                        writers[value] = (relative, pq.ParquetWriter(self.root / relative, self.file_schema, compression=COMPRESSION))
                        counts[value] = 0
                    writers[value][1].write_table(part.drop_columns([self.column]))
                    counts[value] += part.num_rows
                    if counts[value] >= ROWS_PER_FILE:
                        close(value)
        finally:
            for value in list(writers):
                close(value)

    def commit(self) -> int:
        """Replace the partitions matching `filters` with the files written; returns the rows committed.

        Safe under concurrent writers (see the module docstring): the table is created atomically if
        it does not exist, and a commit that loses a race is retried on the new version with the
        same files (`conflicts_retried` says how often a commit of the same partitions won).
        """
        outside = sum(f.rows for f in self.files if not self.allowed(f.partition))
        if outside:
            raise OutsideSelection(
                f"{self.uri}: {outside} rows have a {self.column} outside {self.described}; "
                "the writer must only produce rows for the partitions it was asked for"
            )
        files = [f for f in self.files if f.rows]
        for empty in (f for f in self.files if not f.rows):
            (self.root / empty.relative).unlink(missing_ok=True)
        with delta_errors(self.uri, self.described):
            create_table(self.uri, self.schema, self.column, self.storage_options, self.stats_columns)
            attempt = (lambda: self._commit_local(files)) if self.local else (lambda: self._commit_remote(files))
            self.conflicts_retried = committed(attempt, self.retries, self.uri, self.described)
        self._committed = True
        return sum(f.rows for f in files)

    def _commit_local(self, files: list[StagedFile]) -> None:
        """One commit of the staged files on the latest version, without delta-rs' retries."""
        missing = [f.relative for f in files if not (self.root / f.relative).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.uri}: {len(missing)} staged file(s) of {self.described} disappeared before the commit (e.g. "
                f"{missing[0]}); was the table vacuumed with a retention shorter than this write? Nothing was committed; "
                "re-materialize the partitions"
            )
        table = DeltaTable(self.uri)
        # The schema policy of the version this commits on. The transaction records `self.schema` as the
        # table's: the same, a superset ("merge"), or a new one while every partition is replaced ("overwrite").
        schema_evolution(self.uri, self.schema, self.column, self.allowed, self.described, None, table=table)
        now = int(time.time() * 1000)
        actions = [
            AddAction(
                path=f.relative, size=f.size, partition_values={self.column: f.partition}, modification_time=now,
                data_change=True, stats=file_stats(self.root / f.relative, f.rows, self.stats_columns),
            )
            for f in files
        ]
        try:
            table.create_write_transaction(
                actions, mode="overwrite", schema=self.schema, partition_by=[self.column], partition_filters=self.filters,
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except CommitFailedError:
            if self._untouched_since(table):
                raise Rebase from None
            raise

    def _untouched_since(self, read: DeltaTable) -> bool:
        """Whether the latest version still has the files and schema `read` had in this write's partitions."""
        latest = DeltaTable(self.uri)
        return (
            latest.schema().to_json() == read.schema().to_json()
            and sorted(latest.file_uris(self.filters)) == sorted(read.file_uris(self.filters))
        )

    def _commit_remote(self, files: list[StagedFile]) -> None:
        """One `write_deltalake` of the staged files: its predicate lets delta-rs rebase over commits of other
        partitions and fail (`CommitFailedError`, retried by `committed`) on commits of the same ones."""
        schema_mode = schema_evolution(self.uri, self.schema, self.column, self.allowed, self.described, self.storage_options)

        def batches() -> Iterable[pa.RecordBatch]:
            for f in files:
                for batch in ds.dataset(self.root / f.relative, schema=self.file_schema).to_batches():
                    yield batch.append_column(self.column, pa.array([f.partition] * batch.num_rows, pa.string()))

        schema = self.file_schema.append(pa.field(self.column, pa.string()))
        write_deltalake(
            self.uri, pa.RecordBatchReader.from_batches(schema, batches()), mode="overwrite",
            # A schema overwrite replaces every partition the table has (checked), so no predicate.
            predicate=None if schema_mode == "overwrite" else self.predicate, schema_mode=schema_mode,
            partition_by=[self.column], storage_options=self.storage_options,
        )

    def discard(self) -> None:
        """Delete every file this overwrite wrote or started (nothing was committed)."""
        for relative in self._named:
            (self.root / relative).unlink(missing_ok=True)
        self.files.clear()

