"""How long a code location with N feeds takes to load, against a naive one-decorator-per-asset build.

Feeds are copies of `sources/acme_health/claims.yaml` (3 assets per feed) over four cadences,
generated into a temporary folder. Each measurement runs in a fresh process (imports excluded) and
covers what the code server of `dagster dev` does when it loads the location: read and validate
the YAML specs, build the definitions, load every lazy definition (`LoadedRepositories`), resolve
the asset graph, build the repository snapshot with `defer_snapshots=True` and serialize it to the
string the webserver receives (`_get_serialized_external_repository_data` in
`dagster/_grpc/server.py`). Per size, the three builds are measured in the same run, interleaved,
median of `--repeat`:

- carelake cold: `build_definitions` with an empty spec cache (first load after a change to every file);
- carelake warm: the same with the spec cache filled (every later load, e.g. a reload in the UI);
- naive (the baseline): what one writes without measuring: `yaml.safe_load`, the same pydantic
  specs, and one `@asset` per layer with the same partitions, metadata and checks.

The ratios printed are naive / cold and naive / warm.

    make bench                                   # the defaults below
    .venv/bin/python bench/definitions_load.py [--sizes 100 1000 5000] [--repeat 1] [--lean] [--phases]

`--phases` also prints where a warm carelake load spends its time (building the definitions, the
repository + asset graph + snapshot, serializing the snapshot) and the three loads without
serializing. `--lean` drops the feeds' validations and primary key (one check per feed), to
isolate what asset checks cost.

Results: BENCHMARKS.md, "Issue 2".
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sources" / "acme_health" / "claims.yaml"
CADENCES = ["daily", "weekly", "monthly", "quarterly"]


def generate(folder: Path, n: int, lean: bool = False) -> None:
    text = TEMPLATE.read_text()
    if lean:  # only the platform's own rows_accounted_for check: isolates what checks cost
        text = re.sub(r"validations:\n(  - .*\n)+", "", text)
        text = re.sub(r"primary_key: .*\n", "", text)
    for i in range(n):
        path = folder / f"provider_{i // 10:04d}" / f"table_{i % 10}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("cadence: daily", f"cadence: {CADENCES[i % len(CADENCES)]}"))


def _naive_assets(sources: Path) -> list:
    import dagster as dg
    import yaml

    from carelake.spec import SourceSpec
    from carelake.spec.loading import LoadedSpec
    from platform_assets.checks import feed_checks
    from platform_assets.feeds import _asset_specs
    from platform_assets.partitions import partitions_for

    assets = []
    for path in sorted(sources.rglob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        raw.setdefault("provider", path.parent.name)
        raw.setdefault("table", path.stem)
        loaded = LoadedSpec(SourceSpec.model_validate(raw), path)
        partitions_def = partitions_for(loaded.spec)
        checks = feed_checks(loaded.spec, partitions_def)
        for spec in _asset_specs(loaded, partitions_def):

            @dg.asset(
                key=spec.key, deps=[d.asset_key for d in spec.deps], partitions_def=partitions_def,
                metadata=spec.metadata, owners=spec.owners, group_name=spec.group_name, kinds=spec.kinds,
                automation_condition=spec.automation_condition, tags=spec.tags, description=spec.description,
                check_specs=[c.spec for c in checks if c.spec.asset_key == spec.key],
                required_resource_keys={"lake", "landing"},
            )
            def layer(context):
                return None

            assets.append(layer)
    return assets


def worker(mode: str, sources: Path, cache_dir: Path) -> dict[str, float]:
    import warnings

    import dagster as dg
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from carelake.settings import Settings
    from platform_assets.assembly import build_definitions
    from resources.channels import Channels
    from resources.lake import DeltaLake

    warnings.simplefilter("ignore")  # both builds create beta/preview objects; printing warnings is not what we measure
    started = time.perf_counter()
    if mode == "naive":
        defs = dg.Definitions(
            assets=_naive_assets(sources), resources={"lake": DeltaLake(root="/tmp/x"), "landing": Channels(root="/tmp/y")}
        )
    else:
        defs = build_definitions(Settings(sources, "/tmp/x", Path("/tmp/y"), cache_dir=cache_dir))
    built = time.perf_counter()
    repo = defs.get_repository_def()
    repo.load_all_definitions()  # as the code server's LoadedRepositories does
    repo.asset_graph.get_all_asset_keys()
    snap = RepositorySnap.from_def(repo, defer_snapshots=True)  # as the gRPC code server does for `dagster dev`
    snapped = time.perf_counter()
    serialized = serialize_value(snap)  # what the code server sends to the webserver
    done = time.perf_counter()
    return {
        "seconds": done - started, "build": built - started, "snapshot": snapped - built,
        "serialize": done - snapped, "snapshot_mb": len(serialized) / 1e6,
    }


def measure(mode: str, sources: Path, cache_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(sources), str(cache_dir)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--lean", action="store_true", help="feeds without validations or primary key (1 check each)")
    parser.add_argument("--phases", action="store_true", help="also print where a warm carelake load spends its time")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "SOURCES", "CACHE"))
    args = parser.parse_args()
    if args.worker:
        mode, sources, cache = args.worker
        print(json.dumps(worker(mode, Path(sources), Path(cache))))
        return
    print(f"{'feeds':>6} {'assets':>7} {'cold s':>7} {'warm s':>7} {'naive s':>8} {'naive/cold':>11} {'naive/warm':>11}")
    for n in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"carelake-bench-{n}-"))
        try:
            generate(folder / "sources", n, lean=args.lean)
            cold, warm, naive = [], [], []
            for _ in range(args.repeat):
                shutil.rmtree(folder / "cache", ignore_errors=True)
                cold.append(measure("carelake", folder / "sources", folder / "cache"))
                warm.append(measure("carelake", folder / "sources", folder / "cache"))
                naive.append(measure("naive", folder / "sources", folder / "cache"))
        finally:
            shutil.rmtree(folder)
        c, w, b = (statistics.median(x["seconds"] for x in runs) for runs in (cold, warm, naive))
        print(f"{n:>6} {3 * n:>7} {c:>7.2f} {w:>7.2f} {b:>8.2f} {b / c:>10.1f}x {b / w:>10.1f}x", flush=True)
        if args.phases:
            parts = {k: statistics.median(x[k] for x in warm) for k in ("build", "snapshot", "serialize", "snapshot_mb")}
            unserialized = [statistics.median(x["build"] + x["snapshot"] for x in runs) for runs in (cold, warm, naive)]
            naive_mb = statistics.median(x["snapshot_mb"] for x in naive)
            print(
                f"{'':>6} warm: build {parts['build']:.2f} s, repository + graph + snapshot {parts['snapshot']:.2f} s, "
                f"serialize {parts['serialize']:.2f} s ({parts['snapshot_mb']:.0f} MB; naive {naive_mb:.0f} MB)\n"
                f"{'':>6} without serializing: cold {unserialized[0]:.2f} s, warm {unserialized[1]:.2f} s, "
                f"naive {unserialized[2]:.2f} s ({unserialized[2] / unserialized[1]:.1f}x warm)",
                flush=True,
            )


if __name__ == "__main__":
    main()
