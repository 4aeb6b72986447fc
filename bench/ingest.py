"""Raw ingestion throughput and memory, against polars' own CSV -> Parquet ceiling on the same file.

For each size a feed with 12 columns (two `YYYYMMDD` dates, two decimal money columns, integer,
boolean, codes, two PHI columns; 1 row in 10,000 has a bad date and 1 in 20,000 bad money, so the
quarantine path is exercised) is generated into a temporary folder, deleted afterwards. Each
measurement runs in its own process, on the same file in the same run, so peak RSS
is its own (`VmHWM`):

- ceiling (the baseline): `pl.scan_csv(file).sink_parquet(...)` (polars defaults: types inferred;
  fixed width: a line scan + `str.slice` + `strip_chars` per field, `sink_parquet`);
- ours: `carelake.layers.raw.ingest(...)` (unpack checks, parse, trim, type and validate every
  column, split valid / quarantine, write raw and quarantine Parquet, commit both Delta tables);
- with `--untrimmed`, ours again with `trim: false` on every column.

It prints throughput, the ratio ours / ceiling, peak RSS and the quarantined row count.

    .venv/bin/python bench/ingest.py [--sizes 1 2] [--formats csv fixed_width] [--untrimmed]

`--sizes` are in GB (fractions allowed). Results: BENCHMARKS.md, "Issue 4".
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import polars as pl
import yaml

from peak_memory import peak_rss_mb  # bench/ is the script's folder, first on sys.path

# The feed's fixed part; format and columns are appended by `_spec`.
SPEC_BASE = """
provider: bench
table: claims
description: Benchmark claims.
owners: [team:bench]
cadence: daily
start_date: 2025-03-01
delivery:
  channel: {kind: local, path: bench}
  file_pattern: "claims_{date:%Y%m%d}.*"
"""
SPEC_COLUMNS = """
columns:
  - {name: CLAIM_ID, nullable: false}
  - {name: MEMBER_ID, nullable: false, phi: member_id}
  - {name: MEMBER_NAME, phi: name}
  - {name: SVC_DT, type: date, input_format: "%Y%m%d"}
  - {name: PAID_DT, type: date, input_format: "%Y%m%d"}
  - {name: BILLED, type: decimal, precision: 12, scale: 2}
  - {name: PAID, type: decimal, precision: 12, scale: 2}
  - {name: UNITS, type: integer}
  - {name: DX_CODE}
  - {name: PROC_CODE}
  - {name: NPI}
  - {name: IN_NETWORK, type: boolean}
"""
# name, width in the fixed-width layout
LAYOUT = [("CLAIM_ID", 12), ("MEMBER_ID", 10), ("MEMBER_NAME", 20), ("SVC_DT", 8), ("PAID_DT", 8), ("BILLED", 11),
          ("PAID", 11), ("UNITS", 4), ("DX_CODE", 6), ("PROC_CODE", 5), ("NPI", 10), ("IN_NETWORK", 1)]
ROWS_PER_CHUNK = 1_000_000


def _chunk(offset: int, n: int, fixed: bool) -> pl.DataFrame:
    i = pl.int_range(offset, offset + n, eager=True)
    day = (pl.date(2025, 1, 1) + pl.duration(days=pl.col("i") % 365)).dt.strftime("%Y%m%d")
    frame = pl.DataFrame({"i": i}).select(
        CLAIM_ID=pl.format("C{}", pl.col("i")),
        MEMBER_ID=pl.format("M{}", pl.col("i") % 1_000_003),
        MEMBER_NAME=pl.format("Name{} Surname{}", pl.col("i") % 9973, pl.col("i") % 7919),
        SVC_DT=day,
        PAID_DT=day,
        BILLED=pl.format("{}.{}", pl.col("i") % 100000, (pl.col("i") % 90 + 10)),
        PAID=pl.format("{}.{}", pl.col("i") % 50000, (pl.col("i") % 90 + 10)),
        UNITS=(pl.col("i") % 9 + 1).cast(pl.String),
        DX_CODE=pl.format("E{}", pl.col("i") % 9000 + 1000),
        PROC_CODE=(pl.col("i") % 89999 + 10000).cast(pl.String),
        NPI=(pl.col("i") % 8999999999 + 1000000000).cast(pl.String),
        IN_NETWORK=pl.when(pl.col("i") % 3 == 0).then(pl.lit("N")).otherwise(pl.lit("Y")),
    )
    # One row in 10,000 has a bad date, one in 20,000 bad money: quarantine is exercised, not dominant.
    frame = frame.with_columns(
        SVC_DT=pl.when(i % 10_000 == 7).then(pl.lit("20251399")).otherwise(pl.col("SVC_DT")),
        PAID=pl.when(i % 20_000 == 11).then(pl.lit("12,50")).otherwise(pl.col("PAID")),
    )
    if fixed:
        return frame.select(
            line=pl.concat_str([pl.col(n).str.pad_end(w).str.slice(0, w) for n, w in LAYOUT])
        )
    return frame


def generate(path: Path, gigabytes: float, fixed: bool) -> int:
    target, rows = int(gigabytes * (1 << 30)), 0
    with path.open("wb") as out:
        if not fixed:
            out.write((",".join(n for n, _ in LAYOUT) + "\n").encode())
        while out.tell() < target:
            frame = _chunk(rows, ROWS_PER_CHUNK, fixed)
            frame.write_csv(out, include_header=False, quote_style="never" if fixed else "necessary")
            rows += frame.height
    return rows


def _spec(fixed: bool, trim: bool = True):
    from carelake.spec import SourceSpec

    columns = SPEC_COLUMNS if trim else SPEC_COLUMNS.replace("}\n", ", trim: false}\n")
    if fixed:
        fields = "\n".join(f"    - {{name: {n}, length: {w}}}" for n, w in LAYOUT)
        fmt = "format:\n  kind: fixed_width\n  fields:\n" + fields + "\n"
    else:
        fmt = "format: {kind: csv}\n"
    return SourceSpec.model_validate(yaml.safe_load(SPEC_BASE + textwrap.dedent(fmt) + textwrap.dedent(columns)))


def worker(kind: str, fixed: bool, path: Path, out: Path) -> dict:
    if kind.startswith("ours"):
        # Imported before the clock starts, as the ceiling's polars is (resources.lake imports dagster: ~1.5 s).
        from carelake.layers.raw import ingest
        from resources.lake import DeltaLake
        from resources.selection import PartitionSelection
    start = time.perf_counter()
    result: dict = {}
    if kind == "ceiling":
        if fixed:
            line = pl.col("l")
            positions, frames = 0, []
            for n, w in LAYOUT:
                frames.append(line.str.slice(positions, w).str.strip_chars().alias(n))
                positions += w
            pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None, schema={"l": pl.String}).select(
                frames
            ).sink_parquet(out / "ceiling.parquet")
        else:
            pl.scan_csv(path).sink_parquet(out / "ceiling.parquet")
    else:
        selection = PartitionSelection.of_keys(["2025-03-02"])
        tally = ingest(
            _spec(fixed, trim=kind != "ours_untrimmed"), [("2025-03-02", path.name, path)], selection, DeltaLake(root=str(out / "lake")),
            ["raw", "bench", "claims"], ["quarantine", "bench", "claims"],
        )
        result = {"rows_in": tally.rows_in, "rows_raw": tally.rows_raw, "rows_quarantined": tally.rows_quarantined}
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def measure(kind: str, fixed: bool, path: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="carelake-bench-out-") as out:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", kind, "--fixed" if fixed else "--csv", str(path), out],
            capture_output=True, text=True, check=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 2])
    parser.add_argument("--formats", nargs="+", default=["csv", "fixed_width"])
    parser.add_argument("--untrimmed", action="store_true", help="also measure ours with `trim: false` on every column")
    args = parser.parse_args()
    print(f"{'format':<12}{'GB':>6}{'rows':>12}{'ceiling MB/s':>14}{'ours MB/s':>11}{'ratio':>7}"
          f"{'ceiling RSS MB':>16}{'ours RSS MB':>13}{'quarantined':>13}" + (f"{'untrimmed ratio':>17}" if args.untrimmed else ""))
    for fmt in args.formats:
        fixed = fmt == "fixed_width"
        for size in args.sizes:
            with tempfile.TemporaryDirectory(prefix="carelake-bench-") as tmp:
                path = Path(tmp) / ("claims.dat" if fixed else "claims.csv")
                rows = generate(path, size, fixed)
                mb = path.stat().st_size / (1 << 20)
                ceiling = measure("ceiling", fixed, path)
                ours = measure("ours", fixed, path)
                assert ours["rows_in"] == rows == ours["rows_raw"] + ours["rows_quarantined"], (rows, ours)
                c_rate, o_rate = mb / ceiling["seconds"], mb / ours["seconds"]
                print(f"{fmt:<12}{mb / 1024:>6.2f}{rows:>12,}{c_rate:>14.1f}{o_rate:>11.1f}{o_rate / c_rate:>7.2f}"
                      f"{ceiling['peak_rss_mb']:>16.0f}{ours['peak_rss_mb']:>13.0f}{ours['rows_quarantined']:>13,}", end="", flush=True)
                if args.untrimmed:
                    untrimmed = measure("ours_untrimmed", fixed, path)
                    print(f"{mb / untrimmed['seconds'] / c_rate:>17.2f}", end="")
                print(flush=True)
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, kind, flag, path, out = sys.argv
        print(json.dumps(worker(kind, flag == "--fixed", Path(path), Path(out))))
    else:
        main()
