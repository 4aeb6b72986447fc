"""Typing cost of datetime and decimal columns (issue 15, Types), rows per second of `split_rows` over
an in-memory frame of strings (no file I/O), one typed column plus a string id.

Cases: ISO datetimes with offsets (`Z`, `+01:00`), naive ISO datetimes in UTC, naive ISO datetimes in
America/New_York (the DST check keeps the local time apart; the hour the spring change skips is quarantined), decimals with `rounding: reject` and
with `rounding: half_even`. Baseline in the same run: polars' own `str.to_datetime` / `cast(Decimal)`
of the same strings with one known format (no exactness checks, no quarantine).

    .venv/bin/python bench/column_typing.py --rows 2000000 --repeat 3
    PYTHONPATH=../main .venv/bin/python bench/column_typing.py --only "naive UTC"   # main's code, same bench
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl
import yaml

from carelake.coercion import split_rows
from carelake.names import LINE_COLUMN
from carelake.spec import SourceSpec

HEAD = """
provider: bench
table: typing
description: typing bench
owners: [team:bench]
cadence: daily
start_date: 2025-01-01
delivery: {channel: {kind: local, path: bench}, file_pattern: "t_{date:%Y%m%d}.csv"}
"""


def spec(column: str, head: str = "") -> SourceSpec:
    return SourceSpec.model_validate(yaml.safe_load(HEAD + head + f"columns:\n  - {{name: ID}}\n  - {column}\n"))


def stamps(rows: int, rng: np.random.Generator, fmt: str) -> pl.Series:
    seconds = rng.integers(0, 365 * 86_400, rows)
    utc = pl.Series((np.datetime64("2025-01-01T00:00:00") + seconds.astype("timedelta64[s]")).astype("datetime64[us]")).dt.replace_time_zone("UTC")
    return utc.dt.convert_time_zone("Europe/Paris").dt.strftime(fmt) if "%z" in fmt else utc.dt.strftime(fmt)


def run(s: SourceSpec, values: pl.Series) -> float:
    strings = pl.LazyFrame({LINE_COLUMN: pl.int_range(0, len(values), eager=True), "ID": values.cast(pl.String), "V": values})
    valid, rejected = split_rows(s, strings)
    start = time.perf_counter()
    frames = pl.collect_all([*valid, rejected])
    elapsed = time.perf_counter() - start
    assert sum(f.height for f in frames) == len(values), "every row is valid or quarantined"
    return elapsed


def baseline(values: pl.Series, expr: pl.Expr) -> float:
    start = time.perf_counter()
    pl.LazyFrame({"V": values}).select(expr).collect()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="run the cases whose name contains this text")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    zoned = stamps(args.rows, rng, "%Y-%m-%dT%H:%M:%S%:z")
    naive = stamps(args.rows, rng, "%Y-%m-%dT%H:%M:%S")
    amounts = pl.Series(rng.integers(0, 10**8, args.rows)).cast(pl.String) + ".5"
    cases = {
        "datetime, offsets": (lambda: run(spec("{name: V, type: datetime}"), zoned)),
        "datetime, naive UTC": (lambda: run(spec("{name: V, type: datetime}"), naive)),
        "datetime, naive New York": (lambda: run(spec("{name: V, type: datetime}", "timezone: America/New_York\n"), naive)),
        "baseline to_datetime %z": (lambda: baseline(zoned, pl.col("V").str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_unit="us"))),
        "decimal(12,1) reject": (lambda: run(spec("{name: V, type: decimal, precision: 12, scale: 1}"), amounts)),
        "decimal(12,0) half_even": (lambda: run(spec("{name: V, type: decimal, precision: 12, scale: 0, rounding: half_even}"), amounts)),
        "baseline cast Decimal": (lambda: baseline(amounts, pl.col("V").cast(pl.Decimal(12, 1)))),
    }
    print(f"{args.rows:,} rows, median of {args.repeat}")
    for name, case in cases.items():
        if args.only not in name:
            continue
        seconds = statistics.median(case() for _ in range(args.repeat))
        print(f"{name:28} {seconds:6.2f} s  {args.rows / seconds / 1e6:5.2f} M rows/s")


if __name__ == "__main__":
    main()
