"""Ordering between feeds: `waits_for: [acme_health/members]` in a spec.

The waiting feed's raw asset depends on the raw and transformed assets of every feed it waits
for. With the raw / transformed automation condition (`eager() & all_deps_blocking_checks_passed()`)
that means: a raw partition of the waiting feed is requested only once the upstream partitions
for the same window exist and the latest blocking checks on them passed - in the same run
(a failed blocking check fails the upstream step, so the waiting step is skipped) and in every
later automation tick, until a passing materialization. Transformed follows its own raw.

Windows: deps between time-partitioned feeds use Dagster's TimeWindowPartitionMapping, which maps
a downstream window to every upstream partition overlapping it. A daily claims partition
therefore waits for the monthly member partition containing that day; a monthly summary waiting
for a daily feed waits for every day of the month. Because a monthly partition exists only once
its month has closed, claims of the current month wait for that month's roster partition.
One-off (adhoc) feeds have no windows to line up and cannot wait or be waited for.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from platform_assets.spec import Cadence, SourceSpec


def waiting_deps(spec: SourceSpec) -> list[dg.AssetDep]:
    """The deps a feed's raw asset gets from its `waits_for` feeds (raw and transformed of each)."""
    deps = []
    for feed in spec.waits_for:
        provider, table = feed.split("/")
        for layer in ("raw", "transformed"):
            deps.append(dg.AssetDep(dg.AssetKey([layer, provider, table]), partition_mapping=dg.TimeWindowPartitionMapping()))
    return deps


def waits_for_problems(specs: Sequence[tuple[SourceSpec, object]]) -> list[str]:
    """One readable line per bad `waits_for` entry across all feeds: unknown feed, adhoc, cycle."""
    by_key = {spec.key: (spec, path) for spec, path in specs}
    problems = []
    for spec, path in specs:
        for i, feed in enumerate(spec.waits_for):
            where = f"{path}: waits_for[{i}] {feed!r}"
            other = by_key.get(feed)
            if other is None:
                problems.append(f"{where} is not a feed; known feeds: {sorted(by_key)[:20]}")
            elif feed == spec.key:
                problems.append(f"{where}: a feed cannot wait for itself")
            elif Cadence.adhoc in (spec.cadence, other[0].cadence):
                problems.append(f"{where}: adhoc (one-off) feeds have no windows to wait on; remove the entry")
    cycle = _cycle({s.key: [f for f in s.waits_for if f in by_key] for s, _ in specs})
    if cycle:
        problems.append(f"{by_key[cycle[0]][1]}: waits_for forms a cycle {' -> '.join(cycle)}; remove one of the entries")
    return problems


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None
