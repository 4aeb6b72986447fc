"""One daily delivery of the acme claims spec through landed -> raw -> transformed, with checks, through
Dagster: each layer's time and peak RSS against polars' own CSV -> Parquet ceiling, measured in the same run.

For each size a delivery of `sources/acme_health/claims.yaml` is made by the simulator's volume mode
(`carelake/tools/simulation/volume.py`): `--base` GB (default 1) is generated once (~30 MB/s); a
smaller size is its first lines, a larger one more copies of its rows with other claim ids (claim
keys are unique in volume mode, so every row is a distinct primary key: the de-duplication's worst
case for memory, ~12.3 M keys per GB). Every measurement runs in its own
process, so its peak RSS (`VmHWM`, not `ru_maxrss`, which a child inherits from its parent) is that step's alone:

- ceiling: `pl.scan_csv(file).sink_parquet(...)` (types inferred, polars defaults) on the same file;
- landed, raw, transformed: `dg.materialize` of that one asset of the feed for the partition, with
  its checks (raw: rows_accounted_for, not_all_quarantined and the spec's validations; transformed:
  primary_key_unique), on a persistent SQLite Dagster instance;
- transformed without masking: the same spec without its `phi:` annotations (no column is masked,
  no `_key_version`), materialized over the same raw table;
- copy: polars reading the raw Delta table and writing it as Parquet (`sink_parquet`), no change:
  the floor of any transformed layer that reads raw and writes a table.

Throughput is MB of delivered CSV per second for every step, so the ratios compare like with like.

    .venv/bin/python bench/pipeline.py [--sizes 1 2 4] [--keep]

`--sizes` are in GB (fractions allowed). Needs ~3x the largest size of free disk (checked first);
the data is deleted afterwards. Results: BENCHMARKS.md, "Issue 14".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import peak_rss_mb  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parents[1]
FEED = ("acme_health", "claims")
PARTITION = "2026-10-01"
FILE_NAME = "ACME_CLAIMS_20261001.csv"
STEPS = ["ceiling", "landed", "raw", "transformed", "transformed_unmasked", "copy"]


def _write_sources(folder: Path, masked: bool) -> None:
    import yaml

    (folder / FEED[0]).mkdir(parents=True)
    shutil.copy(ROOT / "sources" / "_platform.yaml", folder / "_platform.yaml")
    body = yaml.safe_load((ROOT / "sources" / FEED[0] / f"{FEED[1]}.yaml").read_text())
    if not masked:
        for column in body["columns"]:
            column.pop("phi", None)
    (folder / FEED[0] / f"{FEED[1]}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))


def generate(path: Path, gigabytes: float) -> int:
    from carelake.spec.loading import load_specs
    from carelake.tools.simulation.volume import write_volume

    spec = next(s.spec for s in load_specs(ROOT / "sources") if s.spec.key == "/".join(FEED))
    day = dt.date.fromisoformat(PARTITION)
    return write_volume(spec, path, int(gigabytes * (1 << 30)), (day, day + dt.timedelta(days=1)), progress=False).rows


def build(base: Path, target: Path, gigabytes: float) -> None:
    """A delivery of `gigabytes`: the first whole lines of `base`, and beyond its size more copies of its
    rows, each copy with its own claim ids (`ACMC...` becomes `ACMD...`, `ACME...`), so keys stay unique."""
    limit = int(gigabytes * (1 << 30))
    with target.open("wb") as dst:
        for copy in range(26):
            with base.open("rb") as src:
                header = src.readline()
                if copy == 0:
                    dst.write(header)
                while block := src.read(64 << 20):
                    block = b"\n" + block + src.readline()
                    if copy:
                        block = block.replace(b"\nACMC", b"\nACM" + bytes([ord("C") + copy]))
                    dst.write(block[1:])
                    if dst.tell() >= limit:
                        return


def worker(step: str, work: Path) -> dict:
    """One step in this process; returns its seconds, peak RSS and numbers."""
    import polars as pl

    started = time.perf_counter()
    result: dict = {}
    if step == "ceiling":
        pl.scan_csv(work / "landing" / FEED[0] / FILE_NAME).sink_parquet(work / "ceiling.parquet")
        (work / "ceiling.parquet").unlink()
    elif step == "copy":
        lake = work / "lake"
        pl.scan_delta(str(lake.joinpath("raw", *FEED))).sink_parquet(work / "copy.parquet", maintain_order=False)
        (work / "copy.parquet").unlink()
    else:
        import dagster as dg

        from carelake.settings import Settings
        from platform_assets.assembly import build_definitions

        sources = work / ("sources_unmasked" if step == "transformed_unmasked" else "sources")
        layer = "transformed" if step == "transformed_unmasked" else step
        settings = Settings(sources_dir=sources, lake_root=str(work / "lake"), landing_root=work / "landing")
        defs = build_definitions(settings)
        assets = defs.resolve_assets_def(dg.AssetKey(["raw", *FEED]))
        started = time.perf_counter()  # the layer, not the imports and the definitions
        (work / "dagster_home").mkdir(exist_ok=True)
        instance = dg.DagsterInstance.local_temp(tempdir=str(work / "dagster_home"))
        run = dg.materialize([assets], instance=instance, partition_key=PARTITION,
                             selection=dg.AssetSelection.assets([layer, *FEED]), raise_on_error=False)
        if not run.success:
            raise SystemExit(f"{step} failed: " + "; ".join(e.message or "" for e in run.all_events if e.is_step_failure))
        for event in run.asset_materializations_for_node("__".join(FEED)):
            result["rows"] = event.metadata["dagster/row_count"].value
        checks = run.get_asset_check_evaluations()
        result["checks"] = f"{sum(c.passed for c in checks)}/{len(checks)}"
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = peak_rss_mb()
    # ru_maxrss survives fork + exec on Linux: it is at least the parent's peak when it forked.
    result["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(step: str, work: Path) -> dict:
    env = {**os.environ, "CARELAKE_HMAC_KEY": os.environ.get("CARELAKE_HMAC_KEY", "embedded-profile-demo-key-not-a-secret")}
    proc = subprocess.run([sys.executable, __file__, "--worker", step, str(work)], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{step}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 2, 4])
    parser.add_argument("--base", type=float, default=1.0, help="GB generated by the simulator (larger sizes repeat it)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=STEPS,
                        help="a subset, in this order (raw needs landed, transformed needs raw)")
    parser.add_argument("--simulated", type=Path, help="an already simulated delivery to start from (not deleted)")
    parser.add_argument("--json", type=Path, help="also append each result as a JSON line to this file")
    parser.add_argument("--dir", type=Path, default=None, help="where the data goes (default: the system temp folder)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="carelake-bench-pipeline-", dir=args.dir))
    need = (3.5 * max(args.sizes) + args.base) * (1 << 30)
    free = shutil.disk_usage(base).free
    if free < need:
        raise SystemExit(f"{base}: {free / (1 << 30):.1f} GB free, this run needs ~{need / (1 << 30):.1f} GB")
    print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    header = f"{'GB':>5}{'rows':>12} " + "".join(f"{s + ' s/MB/s/RSS MB':>34}" for s in args.steps)
    print(header, flush=True)
    try:
        full = args.simulated or base / "simulated.csv"
        if not args.simulated:
            generate(full, min(args.base, max(args.sizes)))
        for size in sorted(args.sizes):
            work = base / f"{size:g}gb"
            (work / "landing" / FEED[0]).mkdir(parents=True)
            _write_sources(work / "sources", masked=True)
            _write_sources(work / "sources_unmasked", masked=False)
            delivery = work / "landing" / FEED[0] / FILE_NAME
            build(full, delivery, size)
            mb = delivery.stat().st_size / (1 << 20)
            results = {"gb": round(mb / 1024, 3), "load_average": os.getloadavg()[0]}
            for step in args.steps:
                results[step] = measure(step, work)
                results[step]["mb_per_s"] = mb / results[step]["seconds"]
            results["rows"] = results.get("raw", {}).get("rows", 0)
            print(f"{results['gb']:>5.2f}{results['rows']:>12,} " + "".join(
                f"{results[s]['seconds']:>14.1f}{results[s]['mb_per_s']:>10.1f}{results[s]['peak_rss_mb']:>10.0f}" for s in args.steps
            ), flush=True)
            _ratios(results)
            if args.json:
                with args.json.open("a") as out:
                    out.write(json.dumps(results) + "\n")
            shutil.rmtree(work)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _ratios(r: dict) -> None:
    if not {"ceiling", "raw", "transformed", "transformed_unmasked"} <= r.keys():
        return
    ceiling = r["ceiling"]["mb_per_s"]
    print("       throughput / ceiling: " + ", ".join(f"{s} {r[s]['mb_per_s'] / ceiling:.2f}" for s in STEPS[1:] if s in r)
          + f"; transformed / raw {r['transformed']['mb_per_s'] / r['raw']['mb_per_s']:.2f}"
          + f"; masking adds {r['transformed']['seconds'] / r['transformed_unmasked']['seconds'] - 1:+.0%} to transformed"
          + f"; checks {r['raw']['checks']} raw, {r['transformed']['checks']} transformed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        measured = json.dumps(worker(sys.argv[2], Path(sys.argv[3])))
        with (Path(sys.argv[3]).parent / "steps.jsonl").open("a") as log:  # each step as it ends, for a long run
            log.write(json.dumps({"step": sys.argv[2], "work": sys.argv[3], **json.loads(measured)}) + "\n")
        print(measured)
    else:
        main()
