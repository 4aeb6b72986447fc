"""Spec-level checks of ordering between feeds (`waits_for`): unknown feeds, adhoc feeds, cycles.
How a wait becomes Dagster deps is the code location's (`platform_assets/ordering.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from carelake.spec import Cadence, SourceSpec


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
