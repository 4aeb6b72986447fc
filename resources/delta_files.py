"""A streamed Delta overwrite with memory bounded by one batch: Parquet files are written with
pyarrow as batches arrive, then committed in one transaction replacing the selected partitions.

Measured: delta-rs' own writer (`write_deltalake` with a RecordBatchReader and `partition_by`)
held memory growing with the input (1.7 GB at 1 GB of CSV, 2.3 GB at 2 GB); this path stays flat.
Local lake roots only; other roots use `write_deltalake`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction

ROWS_PER_FILE = 4_000_000


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


class _PartitionFiles:
    def __init__(self, root: Path, column: str, value: str, schema: pa.Schema):
        self.root, self.column, self.value, self.schema = root, column, value, schema
        self.folder = f"{column}={quote(value, safe='-_.')}"
        self.done: list[tuple[str, int]] = []
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.relative = f"{self.folder}/part-{uuid.uuid4().hex}.snappy.parquet"
            (self.root / self.folder).mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.root / self.relative, self.schema, compression="snappy")
        self.writer.write_table(table)
        self.rows += table.num_rows
        if self.rows >= ROWS_PER_FILE:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.done.append((self.relative, self.rows))
            self.writer, self.rows = None, 0

    def actions(self) -> list[AddAction]:
        now = int(time.time() * 1000)
        return [
            AddAction(
                path=relative, size=(self.root / relative).stat().st_size, partition_values={self.column: self.value},
                modification_time=now, data_change=True, stats=json.dumps({"numRecords": rows}),
            )
            for relative, rows in self.done
        ]


def overwrite_partitions(
    uri: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], column: str, filters: list[tuple] | None
) -> int:
    """Stream `batches` into new files and commit them replacing the partitions matching `filters`."""
    schema = plain_types(schema)
    file_schema = pa.schema([f for f in schema if f.name != column])
    root = Path(uri)
    partitions: dict[str, _PartitionFiles] = {}
    written = 0
    try:
        for batch in batches:
            table = pa.Table.from_batches([batch]).cast(schema)
            values = pc.unique(table[column]).to_pylist()
            for value in values:
                part = table if len(values) == 1 else table.filter(pc.equal(table[column], value))
                files = partitions.setdefault(value, _PartitionFiles(root, column, value, file_schema))
                files.write(part.drop_columns([column]))
            written += table.num_rows
        for files in partitions.values():
            files.close()
        DeltaTable.create(uri, schema, partition_by=[column], mode="ignore")
        table = DeltaTable(uri)
        actions = [a for files in partitions.values() for a in files.actions()]
        table.create_write_transaction(actions, mode="overwrite", schema=schema, partition_by=[column], partition_filters=filters)
    except BaseException:
        for files in partitions.values():
            if files.writer is not None:
                files.writer.close()
            for relative, _ in files.done:
                (root / relative).unlink(missing_ok=True)
            if files.writer is not None:
                (root / files.relative).unlink(missing_ok=True)
        raise
    return written
