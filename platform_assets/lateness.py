"""When a window's delivery is due: the window's end plus the spec's `freshness.due_hours`."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from platform_assets.partitions import window_of
from platform_assets.spec import Cadence, SourceSpec


def expected_delivery(spec: SourceSpec, partitions_def: dg.PartitionsDefinition, key: str) -> dt.datetime | None:
    """The UTC time the delivery for partition `key` is due (None for adhoc feeds: no schedule)."""
    if spec.cadence is Cadence.adhoc:
        return None
    _, end = window_of(partitions_def, key)
    return dt.datetime.combine(end, dt.time(), dt.UTC) + dt.timedelta(hours=spec.freshness.due_hours)


def hours_late(expected: dt.datetime | None, delivered_at: dt.datetime) -> float:
    """How many hours after its due time a file arrived (0 if on time or unscheduled)."""
    if expected is None:
        return 0.0
    return max(0.0, (delivered_at - expected).total_seconds() / 3600)
