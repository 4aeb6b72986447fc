"""How long `carelake profile` takes on a large delimited and a large fixed-width file.

Writes, into a temporary folder deleted afterwards, an EHR-style CSV (13 columns: a UUID, names,
birth dates, zoned timestamps, coordinates, race, counts, ZIPs, amounts) and a CMS-style
fixed-width file (58 characters a record, 11 fields), `--rows` rows each, then times (best of
`--repeat`): the layout sniff alone (`layout.sniff`: the first megabyte, fields drafted from up to
2,000 lines), the whole profile (`profile_file`: the exact row count plus the first 200,000 rows
typed and checked for PHI) and the draft with its report.

    .venv/bin/python bench/profiler.py [--rows 1000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from carelake.tools.profiling.draft_spec import draft_spec, to_yaml
from carelake.tools.profiling.layout import sniff
from carelake.tools.profiling.profiler import profile_file
from carelake.tools.profiling.report import format_report

_FIRST = ["Jacinto", "Mary", "Robert", "Linda", "Oscar", "Keisha", "Wen", "Priya", "Tomas", "Ada", "Kim", "Leroy"]
_LAST = ["Smith", "Kris", "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Haddad", "Kowalski", "Tanaka"]


def _pick(options: list[str], h: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(options)).gather(h % len(options))


def _ehr(rows: int) -> pl.DataFrame:
    h = pl.col("h")
    return pl.DataFrame({"h": pl.int_range(0, rows, eager=True).hash(7)}).select(
        Id=h.map_elements(lambda v: (lambda x: f"{x[:8]}-{x[8:12]}-4{x[13:16]}-9{x[17:20]}-{x[20:32]}")(f"{v:016x}" * 2),
                          return_dtype=pl.String),
        BIRTHDATE=(pl.date(1925, 1, 1) + pl.duration(days=h % 32000)).dt.strftime("%Y-%m-%d"),
        FIRST=pl.concat_str([_pick(_FIRST, h), (h % 997).cast(pl.String)]),
        LAST=pl.concat_str([_pick(_LAST, h // 7), (h % 991).cast(pl.String)]),
        RACE=_pick(["white", "black", "asian", "hispanic", "native"], h // 3),
        LAT=(41.2 + (h % 10**9) / 10**9 * 1.7).round(12).cast(pl.String),
        LON=(-73.5 + (h % 10**9) / 10**9 * 3.6).round(12).cast(pl.String),
        MEMBER_MONTHS=(h % 37).cast(pl.String),
        ENCOUNTER_START=(pl.datetime(2019, 1, 1) + pl.duration(seconds=h % (3 * 365 * 86400))).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ZIP=(1001 + h % 1790).cast(pl.String).str.zfill(5),
        HEALTHCARE_EXPENSES=((h % 25_000_000) / 100).round(2).cast(pl.String),
    )


def _fixed_width(rows: int) -> pl.DataFrame:
    h = pl.col("h")
    birth = pl.date(1920, 1, 1) + pl.duration(days=h % 25000)
    cents = 10_000 + h % 9_990_000
    return pl.DataFrame({"h": pl.int_range(0, rows, eager=True).hash(11)}).select(line=pl.concat_str([
        (h % 16**15 + 16**15).map_elements(lambda v: f"{v:016X}", return_dtype=pl.String),
        birth.dt.strftime("%Y%m%d"),
        pl.when(h % 7 == 0).then((birth + pl.duration(days=25000)).dt.strftime("%Y%m%d")).otherwise(pl.lit(" " * 8)),
        (1 + h % 2).cast(pl.String),
        _pick(["MA", "NY", "CA", "TX", "OH"], h // 3),
        (h % 999).cast(pl.String).str.zfill(3), pl.lit("  "),
        (h % 13).cast(pl.String).str.zfill(2),
        pl.concat_str([(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)]).str.pad_start(10),
        _pick(["Y", "N"], h // 5), pl.lit(" " * 5),
    ]))


def _best(repeat: int, fn) -> float:  # noqa: ANN001 - a callable
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="profile-bench-"))
    try:
        csv_path, fw_path = folder / "patients_20250301.csv", folder / "BENE_2009.txt"
        _ehr(args.rows).write_csv(csv_path)
        _fixed_width(args.rows).write_csv(fw_path, include_header=False, quote_style="never")
        for path in (csv_path, fw_path):
            size = path.stat().st_size / 1e6
            sniffed = _best(args.repeat, lambda p=path: sniff(p))
            profiled = _best(args.repeat, lambda p=path: profile_file(p))
            profile = profile_file(path)
            drafted = _best(args.repeat, lambda pr=profile: (to_yaml(draft_spec(pr, "bench", "bench"), pr), format_report(pr)))
            print(f"{path.name}: {args.rows:,} rows, {size:,.0f} MB, {profile.layout.kind}, {len(profile.columns)} columns, "
                  f"{sum(1 for c in profile.columns if c.phi)} PHI | sniff {sniffed:.2f} s, profile {profiled:.2f} s, "
                  f"draft + report {drafted:.2f} s")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
