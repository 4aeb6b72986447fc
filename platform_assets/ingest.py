"""Raw ingestion as a stream: landed files -> string batches -> typed rows and quarantine rows ->
one Delta commit per table, with memory bounded by the batch size, not the file size.

Valid rows go straight into the raw table's write; rejected rows are spooled to a temporary
Parquet file and committed to the quarantine table afterwards. Counts are taken as batches pass.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from platform_assets.coercion import REASONS, mark_rows, rejected_rows, valid_columns, valid_rows
from platform_assets.errors import DeliveryError
from platform_assets.formats import open_delivery
from platform_assets.formats.frames import FILE_COLUMN, LINE_COLUMN, string_schema
from platform_assets.spec import SourceSpec
from resources.lake import PARTITION_COLUMN, DeltaLake, PartitionSelection

BATCH_ROWS = 250_000
SAMPLE_ROWS = 5
MASK = "***"


@dataclass
class IngestTally:
    """What passed through, counted on the stream: the accounting invariant's three numbers and more."""

    rows_in: int = 0
    rows_raw: int = 0
    rows_quarantined: int = 0
    by_rule: Counter = field(default_factory=Counter)
    drift: dict[str, dict] = field(default_factory=dict)
    sample: list[dict] = field(default_factory=list)
    by_partition: dict[str, Counter] = field(default_factory=dict)


def _empty_strings(spec: SourceSpec) -> pl.LazyFrame:
    return pl.LazyFrame(schema=string_schema(spec)).with_columns(
        pl.lit(None, pl.String).alias(PARTITION_COLUMN), pl.lit(None, pl.String).alias(FILE_COLUMN)
    )


def _arrow_schema(frame: pl.LazyFrame) -> pa.Schema:
    return frame.collect().to_arrow().schema


def ingest(
    spec: SourceSpec, files: list[tuple[str, str, Path]], selection: PartitionSelection, lake: DeltaLake,
    raw_key: list[str], quarantine_key: list[str],
) -> IngestTally:
    """Ingest landed files (partition, file name, path) into the raw and quarantine tables."""
    tally = IngestTally()
    empty = mark_rows(spec, _empty_strings(spec))
    raw_schema = _arrow_schema(valid_rows(spec, empty))
    quarantine_schema = _arrow_schema(rejected_rows(spec, empty))
    with tempfile.TemporaryDirectory(prefix="carelake-quarantine-") as spool_dir:
        spool_path = Path(spool_dir) / "quarantine.parquet"
        with pq.ParquetWriter(spool_path, quarantine_schema) as spool:
            valid = _valid_batches(spec, files, tally, spool, raw_schema, quarantine_schema)
            tally.rows_raw = lake.replace_stream(raw_key, raw_schema, valid, selection)
        # Raw is committed; if quarantine's commit fails the partition fails loudly (re-run is idempotent).
        batches = pq.ParquetFile(spool_path).iter_batches(batch_size=BATCH_ROWS)
        tally.rows_quarantined = lake.replace_stream(quarantine_key, quarantine_schema, batches, selection)
    return tally


def _valid_batches(
    spec: SourceSpec, files, tally: IngestTally, spool: pq.ParquetWriter, raw_schema: pa.Schema, q_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    phi = {c.name for c in spec.columns if c.phi is not None}
    for partition, file_name, path in files:
        with open_delivery(spec, path, file_name) as readings:
            for plain, reading in readings:
                marked = mark_rows(
                    spec,
                    reading.frame.with_columns(pl.lit(partition).alias(PARTITION_COLUMN), pl.lit(plain.name).alias(FILE_COLUMN)),
                )
                counts = tally.by_partition.setdefault(partition, Counter())
                for batch in _batches(marked, plain.name, plain.path, spec):
                    tally.rows_in += batch.height
                    bad = batch.height - batch[REASONS].null_count()
                    counts.update(rows_in=batch.height, rows_raw=batch.height - bad, rows_quarantined=bad)
                    if bad:
                        rejected = rejected_rows(spec, batch)
                        tally.rows_quarantined += rejected.height
                        tally.by_rule.update(f"{c}:{r}" for c, r in rejected.select("column", "rule").iter_rows())
                        _sample(tally, rejected, phi)
                        spool.write_table(rejected.to_arrow().cast(q_schema))
                    # Most batches have no rejected row: skip the filter's copy then.
                    good = valid_rows(spec, batch) if bad else batch.select(valid_columns(spec, batch))
                    if good.height:
                        yield from good.to_arrow().cast(raw_schema).to_batches()
                if reading.drift:
                    tally.drift[plain.name] = reading.drift.as_metadata()


def _batches(marked: pl.LazyFrame, name: str, path: Path, spec: SourceSpec) -> Iterator[pl.DataFrame]:
    try:
        yield from marked.collect_batches(chunk_size=BATCH_ROWS)
    except pl.exceptions.PolarsError as exc:
        message = str(exc).splitlines()[0][:200]
        line = _first_invalid_utf8_line(path) if "utf-8" in message.lower() else None
        fix = (
            "fix the file's encoding, or declare it in format.encoding" if line
            else f"compare the file with the format section of sources/{spec.key}.yaml"
        )
        raise DeliveryError(name, line, f"the file cannot be parsed as {spec.format.kind} ({_no_values(message)})", fix) from None


def _no_values(message: str) -> str:
    # Parser messages can quote field contents; keep only the structural part.
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message)


def _first_invalid_utf8_line(path: Path) -> int | None:
    line, carry = 1, b""
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            data = carry + chunk
            try:
                data.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as exc:
                if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
                    carry = data[exc.start :]
                    data = data[: exc.start]
                else:
                    return line + data[: exc.start].count(b"\n")
            line += data.count(b"\n")
    return None


def _sample(tally: IngestTally, rejected: pl.DataFrame, phi: set[str]) -> None:
    """A few rejected rows for metadata: values of PHI columns (and whole records) are masked."""
    for row in rejected.head(SAMPLE_ROWS - len(tally.sample)).iter_rows(named=True):
        value = row["value"]
        tally.sample.append(
            {
                "file": row[FILE_COLUMN], "line": row[LINE_COLUMN], "column": row["column"], "rule": row["rule"],
                "value": MASK if (row["column"] in phi or row["column"] == "_record") and value is not None else value,
            }
        )
