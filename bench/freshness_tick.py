"""Freshness sensor tick time over many feeds, against a real Dagster instance (in-memory SQLite).

`--feeds` daily feeds (due 30 h, warning at 6 h) are judged at a fixed moment, on an in-memory instance. Most are fresh: the
instance holds, for each, the landed / raw / transformed materializations and raw's two blocking
check evaluations of the windows that matter; `--stale` percent have nothing (they fail). Timed:
the first tick (every feed judged: the per-feed queries), a steady tick a minute later (nothing new:
nothing judged), a tick after one stale feed was materialized, and a tick at the next
deadline (every feed judged again). The cursor's size is printed.

    .venv/bin/python bench/freshness_tick.py [--feeds 1000] [--stale 10]

Results: BENCHMARKS.md, "Issue 13".
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import warnings

import dagster as dg

from carelake.freshness import windows_to_judge
from carelake.spec import SourceSpec
from sensors.freshness import FreshnessTarget, evaluate_freshness

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def spec(i: int) -> SourceSpec:
    return SourceSpec.model_validate({
        "provider": f"p{i // 10:04d}", "table": f"t{i % 10}", "description": "bench", "owners": ["team:bench"],
        "cadence": "daily", "start_date": "2026-01-01", "freshness": {"due_hours": 30, "warn_hours": 6},
        "delivery": {"channel": {"kind": "local", "path": "drop"}, "file_pattern": "f_{date:%Y%m%d}.csv"},
        "columns": [{"name": "A"}],
    })


def seed(instance: dg.DagsterInstance, target: FreshnessTarget, keys: list[str]) -> int:
    """What a feed run records for `keys`: three materializations and raw's blocking checks, each passed."""
    events = 0
    for key in keys:
        for layer in ("landed", "raw", "transformed"):
            instance.report_runless_asset_event(dg.AssetMaterialization(target.asset_key(layer), partition=key))
            events += 1
        for check in target.blocking["raw"]:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=check.asset_key, check_name=check.name, passed=True, partition=key))
            events += 1
    return events


def timed(fn):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--stale", type=float, default=10, help="percent of feeds with nothing delivered")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    targets = [FreshnessTarget.of(spec(i)) for i in range(args.feeds)]
    stale = int(args.feeds * args.stale / 100)
    with dg.DagsterInstance.ephemeral() as instance:  # in-memory SQLite: seeding through a file DB costs minutes
        seed_s, seeded = timed(lambda: sum(seed(instance, t, windows_to_judge(t.spec, NOW)) for t in targets[stale:]))
        print(f"{args.feeds:,} feeds ({2 * args.feeds:,} tables), {stale:,} stale; seeded {seeded:,} events in {seed_s:.0f} s")

        def tick(cursor: str | None, when: dt.datetime):  # noqa: ANN202
            return timed(lambda: evaluate_freshness(instance, targets, cursor, when))

        first_s, (events, cursor) = tick(None, NOW)
        print(f"first tick (every feed judged): {first_s * 1000:,.0f} ms, {len(events):,} evaluations, "
              f"cursor {len(cursor) / 1024:.1f} KiB")
        idle_s, (idle, cursor) = tick(cursor, NOW + dt.timedelta(minutes=1))
        print(f"steady tick (nothing new): {idle_s * 1000:,.0f} ms, {len(idle)} evaluations")
        seed(instance, targets[0], windows_to_judge(targets[0].spec, NOW))  # a stale feed's files come in
        one_s, (one, cursor) = tick(cursor, NOW + dt.timedelta(minutes=2))
        print(f"tick after one feed's run: {one_s * 1000:,.0f} ms, {len(one)} evaluations")
        deadline = dt.datetime.combine(NOW.date() + dt.timedelta(days=1), dt.time(6, 1), dt.UTC)
        deadline_s, (due, cursor) = tick(cursor, deadline)
        print(f"tick at a deadline (every feed judged again): {deadline_s * 1000:,.0f} ms, {len(due)} evaluations")


if __name__ == "__main__":
    main()
