"""How long the checks of a 10-million-row claims partition take, against reading the partition once.

Writes a synthetic partition of `--rows` rows x 13 columns (plus 20 older partitions of 1,000 rows,
and a 100,000-member table) into a temporary lake, deleted afterwards, and checks it with 20
declared rules (13 row rules, 7 table and cross-feed rules; two fail on purpose so masked samples are
read too). Best of `--repeat`, all measured in the same run:

- baseline: reading the partition into memory once (`lake.scan(...).collect()`), what any check
  suite that looks at every column pays at least;
- carelake: `run_checks` for the spec's 20 rules (row rules batched in one pass, table and
  cross-feed rules separately), exactly as the raw layer runs them; printed as a ratio to the baseline;
- one scan per rule: the same row rules, each evaluated in its own scan (what the row rules would
  cost without batching); printed as a ratio to the one batched pass.

    .venv/bin/python bench/checks.py [--rows 10000000] [--repeat 2]

Results: BENCHMARKS.md, "Issue 5".
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings

import polars as pl

from carelake.names import PARTITION_COLUMN
from carelake.quality.registry import RowRule
from carelake.quality.row_rules import evaluate_row_rules
from carelake.spec import SourceSpec
from platform_assets.checks import feed_checks, run_checks
from platform_assets.feeds import asset_key
from platform_assets.partitions import partitions_for
from resources.lake import DeltaLake, selection_of

PARTITION = "2026-03-01"
COLUMNS = [
    {"name": "CLAIM", "nullable": False},
    {"name": "LINE", "type": "integer"},
    {"name": "MEMBER", "phi": "member_id"},
    {"name": "DOB", "type": "date", "phi": "birth_date"},
    {"name": "SVC_DT", "type": "date"},
    {"name": "PAID_DT", "type": "date"},
    {"name": "NPI"},
    {"name": "DX"},
    {"name": "PROC"},
    {"name": "STATE"},
    {"name": "ZIP", "phi": "zip"},
    {"name": "LINE_AMT", "type": "decimal"},
    {"name": "TOTAL", "type": "decimal"},
]
VALIDATIONS = [
    {"rule": "not_null", "column": "MEMBER"},
    {"rule": "npi", "column": "NPI"},
    {"rule": "icd10_cm", "column": "DX"},
    {"rule": "hcpcs", "column": "PROC"},
    {"rule": "us_state", "column": "STATE"},
    {"rule": "zip", "column": "ZIP"},
    {"rule": "not_in_future", "column": "SVC_DT"},
    {"rule": "date_order", "columns": ["DOB", "SVC_DT", "PAID_DT"]},
    {"rule": "regex", "column": "CLAIM", "pattern": "C[0-9]+"},
    {"rule": "range", "column": "LINE_AMT", "min": 0, "max": 100000},
    {"rule": "length", "column": "CLAIM", "max": 12},
    {"rule": "accepted_values", "column": "STATE", "values": ["NY", "NJ", "CA", "TX", "PR"]},
    {"rule": "expression", "sql": "LINE_AMT <= TOTAL", "name": "line_within_total"},
    {"rule": "unique", "columns": ["CLAIM", "LINE"]},
    {"rule": "row_count", "min": 1},
    {"rule": "row_count_change", "max_drop": 0.3},
    {"rule": "sum_equals", "group_by": ["CLAIM"], "column": "LINE_AMT", "total_column": "TOTAL"},
    {"rule": "references", "column": "MEMBER", "to": "bench/members", "to_column": "MEMBER"},
    {"rule": "unique_across_partitions", "columns": ["CLAIM", "LINE"]},
    {"rule": "quarantine_rate", "max": 0.05},
]


def spec() -> SourceSpec:
    return SourceSpec.model_validate(
        {
            "provider": "bench", "table": "claims", "description": "Benchmark claims.", "owners": ["team:bench"],
            "cadence": "daily", "start_date": "2026-01-01",
            "delivery": {"channel": {"kind": "local", "path": "bench"}, "file_pattern": "c_{date:%Y%m%d}.csv"},
            "columns": COLUMNS, "validations": VALIDATIONS,
        }
    )


def claims(rows: int, partition: str, offset: int = 0) -> pl.DataFrame:
    """Two lines per claim; a sprinkling of bad codes so samples are read too."""
    i = pl.int_range(offset, offset + rows, dtype=pl.Int64, eager=True)
    frame = pl.DataFrame({"i": i}).with_columns(
        CLAIM=pl.format("C{}", pl.col("i") // 2),
        LINE=pl.col("i") % 2 + 1,
        MEMBER=pl.format("M{}", pl.col("i") % 100_000),
        DOB=pl.date(1950, 1, 1) + pl.duration(days=pl.col("i") % 20_000),
        SVC_DT=pl.date(2026, 2, 1) + pl.duration(days=pl.col("i") % 28),
        PAID_DT=pl.date(2026, 3, 1),
        NPI=pl.when(pl.col("i") % 1000 == 0).then(pl.lit("1234567890")).otherwise(pl.lit("1234567893")),
        DX=pl.when(pl.col("i") % 997 == 0).then(pl.lit("V065")).otherwise(pl.lit("E11.9")),
        PROC=pl.lit("99213"),
        STATE=pl.lit("NY"),
        ZIP=pl.format("{}", 10000 + pl.col("i") % 89_999),
        LINE_AMT=pl.lit(50).cast(pl.Decimal(18, 2)),
        TOTAL=pl.lit(100).cast(pl.Decimal(18, 2)),
    )
    return frame.drop("i").with_columns(pl.lit(partition).alias(PARTITION_COLUMN), pl.lit("c.csv").alias("_file"),
                                        pl.int_range(2, rows + 2).alias("_line"))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    warnings.simplefilter("ignore")  # partitioned check specs warn as "preview" once per check
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="carelake-bench-checks-")
    try:
        s = spec()
        lake = DeltaLake(root=folder)
        partitions_def = partitions_for(s)
        raw = asset_key("raw", s)
        start = time.perf_counter()
        for day in range(1, 21):  # older partitions for row_count_change / unique_across_partitions
            key = f"2026-02-{day:02d}"
            lake.replace(raw, claims(1000, key, offset=10**9 + day * 1000), selection_of(partitions_def, [key]))
        selection = selection_of(partitions_def, [PARTITION])
        lake.replace(raw, claims(args.rows, PARTITION), selection)
        members = pl.DataFrame({"MEMBER": [f"M{i}" for i in range(100_000)], PARTITION_COLUMN: "2026-03-01"})
        lake.replace(["raw", "bench", "members"], members, selection)
        print(f"wrote {args.rows:,} rows in {time.perf_counter() - start:.1f} s")

        checks = [c for c in feed_checks(s, partitions_def) if c.spec.name != "rows_accounted_for"]
        rules = [c.check.rule for c in checks if isinstance(c.check.rule, RowRule)]
        scan = lambda: lake.scan(raw, selection)
        baseline = best(lambda: scan().collect(), args.repeat)
        results = []
        carelake = best(lambda: results.append(run_checks(s, checks, lake, selection)), args.repeat)
        per_rule = best(lambda: [evaluate_row_rules(scan(), [r]) for r in rules], args.repeat)
        row_only = best(lambda: evaluate_row_rules(scan(), rules), args.repeat)

        failed = [r.check_name for r in results[-1] if not r.passed]
        print(f"{len(checks)} checks ({len(rules)} row rules), failing: {failed}")
        print(f"baseline: read the partition once       {baseline:6.2f} s")
        print(f"carelake: all {len(checks)} checks (run_checks)    {carelake:6.2f} s  = {carelake / baseline:.1f}x baseline")
        print(f"  of which {len(rules)} row rules in one pass    {row_only:6.2f} s  = {row_only / baseline:.1f}x baseline")
        print(f"  the same row rules, one scan each     {per_rule:6.2f} s  = {per_rule / row_only:.1f}x the one pass")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
