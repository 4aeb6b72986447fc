"""Arrival sensor tick time with 10,000 files in one local channel, against a bare folder listing.

`--files` files of a daily feed (40 per day, going back day by day) are written into a temporary
channel with realistic arrival times (mtime 2 h after their day closed). `evaluate_arrivals` is
timed for the first tick (every file new: one run request per window), a steady-state tick
(nothing new: the common case) and a tick after 20 new files arrive (median of 3, the last one
single shot). The baseline is `os.scandir` + `stat` of the same folder in the same run (what any
tick must pay); the first and steady ticks are printed as ratios to it, with the cursor's size.

    .venv/bin/python bench/sensor_tick.py [--files 10000]

Results: BENCHMARKS.md, "Issue 3".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg

from carelake.spec import SourceSpec
from resources.channels import Channels
from sensors.arrivals import evaluate_arrivals

SPEC = {
    "provider": "bench", "table": "claims", "description": "bench", "owners": ["team:bench"], "cadence": "daily",
    "start_date": "2000-01-01", "delivery": {"channel": {"kind": "local", "path": "drop"}, "file_pattern": "claims_{date:%Y%m%d}_*.csv"},
    "columns": [{"name": "A"}],
}
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def deliver(folder: Path, start: int, count: int, now: bool = False) -> None:
    """Files spread over past days, each arriving 2 h after its day closed (or now)."""
    for i in range(start, start + count):
        day = dt.date(2026, 10, 31) - dt.timedelta(days=i // 40)
        path = folder / f"claims_{day:%Y%m%d}_{i:05d}.csv"
        path.write_text("A\n1\n")
        if not now:
            arrived = dt.datetime.combine(day, dt.time(2), dt.UTC) + dt.timedelta(days=1)
            os.utime(path, (arrived.timestamp(), arrived.timestamp()))


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    results = []
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        results.append(time.perf_counter() - started)
    return statistics.median(results), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    spec = SourceSpec.model_validate(SPEC)
    with tempfile.TemporaryDirectory(prefix="carelake-bench-tick-") as tmp, dg.instance_for_test() as instance:
        folder = Path(tmp) / "drop"
        folder.mkdir()
        deliver(folder, 0, args.files)
        channels = Channels(root=tmp)

        def tick(cursor: str | None) -> dg.SensorResult:
            return evaluate_arrivals(dg.build_sensor_context(instance=instance, cursor=cursor), [spec], channels, NOW)

        def listing() -> int:
            with os.scandir(folder) as entries:
                return sum(1 for e in entries if e.stat().st_size >= 0)

        list_s, _ = timed(listing)
        first_s, first = timed(lambda: tick(None))
        idle_s, idle = timed(lambda: tick(first.cursor))
        deliver(folder, args.files, 20, now=True)
        new_s, new = timed(lambda: tick(first.cursor), repeat=1)
    print(f"{args.files:,} files in the channel; bare scandir+stat: {list_s * 1000:.1f} ms")
    print(f"first tick (all new): {first_s * 1000:.1f} ms, {len(first.run_requests)} run requests "
          f"(ratio {first_s / list_s:.1f}x the listing)")
    print(f"steady tick (nothing new): {idle_s * 1000:.1f} ms, {len(idle.run_requests)} run requests "
          f"(ratio {idle_s / list_s:.1f}x the listing)")
    print(f"tick with 20 new files: {new_s * 1000:.1f} ms, {len(new.run_requests)} run requests")
    print(f"cursor size: {len(first.cursor or '') / 1024:.1f} KiB after the first tick")


if __name__ == "__main__":
    main()
