"""The raw layer: landed files parsed with the declared schema, as a stream: landed files -> strings -> typed rows and quarantine rows -> one
Delta commit per table, with memory bounded by polars' streaming engine, not the file size.

Per file, one polars query marks every row (typed values and failure reasons) and sinks valid
rows into new raw files and rejected rows into new quarantine files in the same pass; counts come
from the files written. Nothing is committed until every file of the run has been read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from carelake.coercion import DELIVERED_TEXT_COLUMNS, mark_rows, rejected_rows, split_rows, valid_rows
from carelake.errors import DeliveryError, MissingDeliveryError, without_values
from carelake.formats import open_delivery
from carelake.formats.frames import string_schema
from carelake.layers import LayerResult
from carelake.layers.landed import current_files
from carelake.names import (
    FILE_COLUMN,
    LANDED,
    LINE_COLUMN,
    PARTITION_COLUMN,
    QUARANTINE,
    RAW,
    table_key,
)
from carelake.privacy.samples import SAMPLE_SIZE, phi_columns, sample_value
from carelake.spec import SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake



@dataclass
class PartitionTally:
    """One partition's share of an ingestion: its accounting numbers, quarantine by rule, drift and sample."""

    rows_in: int = 0
    rows_raw: int = 0
    rows_quarantined: int = 0
    files: int = 0
    by_rule: Counter = field(default_factory=Counter)
    drift: dict[str, dict] = field(default_factory=dict)
    sample: list[dict] = field(default_factory=list)

    def metadata(self) -> dict:
        """What this partition's raw materialization reports (plain values; `rows` is its row count)."""
        return {
            "rows": self.rows_raw,
            "rows_in": self.rows_in,
            "rows_raw": self.rows_raw,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_by_rule": dict(sorted(self.by_rule.items())),
            "quarantine_sample_masked": self.sample,
            "schema_drift": self.drift,
            "files": self.files,
        }


@dataclass
class IngestTally:
    """What passed through, counted on the stream per partition; `rows_raw` / `rows_quarantined` are
    what the two commits wrote (the accounting invariant's other two numbers)."""

    rows_raw: int = 0
    rows_quarantined: int = 0
    partitions: dict[str, PartitionTally] = field(default_factory=dict)

    def partition(self, key: str) -> PartitionTally:
        return self.partitions.setdefault(key, PartitionTally())

    @property
    def rows_in(self) -> int:
        return sum(p.rows_in for p in self.partitions.values())

    @property
    def by_rule(self) -> Counter:
        return sum((p.by_rule for p in self.partitions.values()), Counter())

    @property
    def drift(self) -> dict[str, dict]:
        return {name: d for _, p in sorted(self.partitions.items()) for name, d in p.drift.items()}

    @property
    def sample(self) -> list[dict]:
        return [row for _, p in sorted(self.partitions.items()) for row in p.sample][:SAMPLE_SIZE]


def _empty_strings(spec: SourceSpec) -> pl.LazyFrame:
    return pl.LazyFrame(schema=string_schema(spec)).with_columns(
        pl.lit(None, pl.String).alias(PARTITION_COLUMN), pl.lit(None, pl.String).alias(FILE_COLUMN)
    )


def _arrow_schema(frame: pl.LazyFrame) -> pa.Schema:
    return frame.collect().to_arrow().schema


def ingest(
    spec: SourceSpec, files: list[tuple[str, str, Path]], selection: PartitionSelection, lake: DeltaLake,
    raw_key: tuple[str, ...], quarantine_key: tuple[str, ...],
) -> IngestTally:
    """Ingest landed files (partition, file name, path) into the raw and quarantine tables.

    Each file is one polars streaming query over a single scan, sinking valid rows into new raw
    files and rejected rows into new quarantine files; both tables are then committed.
    """
    tally = IngestTally()
    empty = mark_rows(spec, _empty_strings(spec))
    phi = phi_columns(spec)
    raw_schema = _arrow_schema(valid_rows(spec, empty))
    quarantine_schema = _arrow_schema(rejected_rows(spec, empty))
    # File-skipping bounds for every column but the PHI ones (and quarantine's delivered text): the Delta log
    # shows no clear PHI, not even raw's.
    raw_stats = [n for n in raw_schema.names if n not in phi]
    quarantine_stats = [n for n in quarantine_schema.names if n not in DELIVERED_TEXT_COLUMNS]
    with (
        lake.overwrite(raw_key, raw_schema, selection, raw_stats) as raw,
        lake.overwrite(quarantine_key, quarantine_schema, selection, quarantine_stats) as quarantine,
    ):
        for partition, file_name, path in files:
            part = tally.partition(partition)
            part.files += 1
            with open_delivery(spec, path, file_name) as readings:
                for plain, reading in readings:
                    strings = reading.frame.with_columns(pl.lit(partition).alias(PARTITION_COLUMN), pl.lit(plain.name).alias(FILE_COLUMN))
                    valid, rejected = split_rows(spec, strings, trimmed=reading.trimmed)
                    raw_before, rejected_before = len(raw.files), len(quarantine.files)
                    _run(plain.name, plain.path, spec, [*(raw.sink(v) for v in valid), quarantine.sink(rejected)])
                    good = sum(f.rows for f in raw.files[raw_before:])
                    spooled = [quarantine.root / f.relative for f in quarantine.files[rejected_before:] if f.rows]
                    bad = _tally_rejected(part, spooled, phi) if spooled else 0
                    part.rows_in += good + bad
                    part.rows_raw += good
                    part.rows_quarantined += bad
                    if reading.drift:
                        part.drift[plain.name] = reading.drift.as_metadata()
        # Raw is committed first; if quarantine's commit fails the partition fails loudly (re-run is idempotent).
        tally.rows_raw = raw.commit()
        tally.rows_quarantined = quarantine.commit()
    return tally


def run_raw(spec: SourceSpec, selection: PartitionSelection, lake: DeltaLake) -> LayerResult:
    """Parse and type every landed file (newest version) of the partitions as a stream; failing rows go to quarantine."""
    manifest = current_files(lake.read(table_key(LANDED, spec), selection))
    if manifest.is_empty():
        raise MissingDeliveryError(f"{spec.key}: nothing landed for {selection}; materialize the landed asset first")
    files = [
        (f[PARTITION_COLUMN], f["file_name"], Path(f["lake_path"]))
        for f in manifest.sort(PARTITION_COLUMN, "file_name").iter_rows(named=True)
    ]
    tally = ingest(spec, files, selection, lake, table_key(RAW, spec), table_key(QUARANTINE, spec))
    keys = sorted({partition for partition, _, _ in files})
    # Where a user finds the rows that failed (counts by rule above; the values stay in the lake).
    quarantine = {"quarantine_table": lake.table_uri(table_key(QUARANTINE, spec))}
    return LayerResult(tally.rows_raw, {key: {**tally.partition(key).metadata(), **quarantine} for key in keys})


def _run(name: str, path: Path, spec: SourceSpec, sinks: list[pl.LazyFrame]) -> None:
    try:
        pl.collect_all(sinks)
    except pl.exceptions.PolarsError as exc:
        message = without_values(exc, 200)
        line = _first_invalid_utf8_line(path) if "utf-8" in message.lower() else None
        fix = (
            "fix the file's encoding, or declare it in format.encoding" if line
            else f"compare the file with the format section of sources/{spec.key}.yaml"
        )
        raise DeliveryError(name, line, f"the file cannot be parsed as {spec.format.kind} ({message})", fix) from None


def _tally_rejected(tally: PartitionTally, files: list[Path], phi: set[str]) -> int:
    """Count rejected rows by rule and keep a masked sample; returns how many rows were rejected."""
    rejected = pl.scan_parquet(files)
    counts = rejected.group_by("column", "rule").len().collect()
    tally.by_rule.update({f"{c}:{r}": n for c, r, n in counts.iter_rows()})
    if len(tally.sample) < SAMPLE_SIZE:
        first = rejected.select(FILE_COLUMN, LINE_COLUMN, "column", "rule", "value").sort(FILE_COLUMN, LINE_COLUMN).head(SAMPLE_SIZE)
        _sample(tally, first.collect(), phi)
    return int(counts["len"].sum())


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


def _sample(tally: PartitionTally, rejected: pl.DataFrame, phi: set[str]) -> None:
    """A few rejected rows for metadata: values of PHI columns (and whole records) are masked."""
    for row in rejected.head(SAMPLE_SIZE - len(tally.sample)).iter_rows(named=True):
        value = row["value"]
        tally.sample.append(
            {
                "file": row[FILE_COLUMN], "line": row[LINE_COLUMN], "column": row["column"], "rule": row["rule"],
                "value": sample_value(row["column"], value, phi),
            }
        )
