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

import dagster as dg

from carelake.names import RAW, TRANSFORMED, table_key
from carelake.spec import SourceSpec


def waiting_deps(spec: SourceSpec) -> list[dg.AssetDep]:
    """The deps a feed's raw asset gets from its `waits_for` feeds (raw and transformed of each)."""
    deps = []
    for feed in spec.waits_for:
        for layer in (RAW, TRANSFORMED):
            deps.append(dg.AssetDep(dg.AssetKey(table_key(layer, feed)), partition_mapping=dg.TimeWindowPartitionMapping()))
    return deps
