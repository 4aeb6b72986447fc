"""Delta data-skipping statistics (`minValues`, `maxValues`, `nullCount`) of a staged Parquet file,
read from its footer: what delta-rs' own writer records, for the files the streamed overwrite
commits itself (`delta_files.PartitionOverwrite`).

Readers skip files by these bounds (polars' `scan_delta` does), so a bound that is not one loses
rows silently. A column gets min / max only where the footer's values are exact bounds in Delta's
JSON form; otherwise it is left out, which readers take as "may match":
- integers, dates, UTC timestamps (truncated down to milliseconds, as the protocol says; readers
  widen the max by 1 ms), decimals of at most 15 digits (a JSON number reads back exactly) and
  strings shorter than 64 bytes (polars cuts longer string statistics to a 64-byte prefix, which is
  no upper bound);
- not floats (NaN), booleans, binary, naive timestamps, or a column any row group lacks bounds for
  while holding values.

Only the columns a caller names get statistics: the PHI columns of raw and quarantine are never
named, so their clear values stay out of the Delta log (transformed names every column: its values
are masked). The same list is the table property `delta.dataSkippingStatsColumns`, which delta-rs'
writer honours on the remote path.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Collection
from pathlib import Path

import pyarrow.parquet as pq

STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"
_STRING_BYTES = 64
_DECIMAL_DIGITS = 15


def file_stats(path: Path, rows: int, columns: Collection[str]) -> str:
    """The `stats` JSON of one Parquet file's add action: its row count and the named columns' bounds."""
    stats: dict = {"numRecords": rows}
    if not columns:
        return json.dumps(stats)
    metadata = pq.read_metadata(path)
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    low, high, nulls = {}, {}, {}
    for name in columns:
        index = leaves.get(name)
        if index is None:
            continue
        found = [metadata.row_group(g).column(index).statistics for g in range(metadata.num_row_groups)]
        if not found or any(s is None for s in found):
            continue
        if all(s.has_null_count for s in found):
            nulls[name] = sum(s.null_count for s in found)
        if any(s.num_values and not s.has_min_max for s in found):
            continue  # values without bounds in some row group
        bounded = [s for s in found if s.has_min_max]
        if not bounded:
            continue  # only nulls
        bounds = _json_bounds(min(s.min for s in bounded), max(s.max for s in bounded), bounded[0].logical_type)
        if bounds is not None:
            low[name], high[name] = bounds
    if low:
        stats["minValues"], stats["maxValues"] = low, high
    if nulls:
        stats["nullCount"] = nulls
    return json.dumps(stats)


def _json_bounds(low: object, high: object, logical: object) -> tuple[object, object] | None:
    """(min, max) as Delta's stats JSON holds them, or None where they would not be exact bounds."""
    kind = logical.type
    if isinstance(low, bool | float):
        return None
    if isinstance(low, int) and kind in ("INT", "NONE"):
        return low, high
    if isinstance(low, dt.datetime):
        if low.tzinfo is None or not json.loads(logical.to_json()).get("isAdjustedToUTC"):
            return None
        return _millis(low), _millis(high)
    if isinstance(low, dt.date):
        return low.isoformat(), high.isoformat()
    if isinstance(low, decimal.Decimal):
        digits = max(len(v.as_tuple().digits) for v in (low, high))
        return (float(low), float(high)) if digits <= _DECIMAL_DIGITS else None
    if isinstance(low, str) and kind == "STRING":
        return (low, high) if max(len(low.encode()), len(high.encode())) < _STRING_BYTES else None
    return None


def _millis(value: dt.datetime) -> str:
    """A UTC timestamp truncated down to milliseconds, as the Delta protocol writes them."""
    utc = value.astimezone(dt.UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
