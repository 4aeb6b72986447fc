"""Cadence -> Dagster partitions, and the time arithmetic every layer shares.

Every time partition key is the window start formatted `%Y-%m-%d`, whatever the cadence, so a
key range of any cadence is a plain string range over the `_partition` column of a table.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from resources.lake import PartitionSelection

from platform_assets.spec import Cadence, SourceSpec

KEY_FORMAT = "%Y-%m-%d"

# Cadences without a dedicated Dagster class are cron windows (see docs/DAGSTER_NOTES.md).
_CRON = {
    Cadence.quarterly: "0 0 1 1,4,7,10 *",
    Cadence.semiannual: "0 0 1 1,7 *",
    Cadence.yearly: "0 0 1 1 *",
}


def partitions_for(spec: SourceSpec) -> dg.PartitionsDefinition:
    """The partitions definition of a feed's three assets."""
    start = spec.start_date.strftime(KEY_FORMAT)
    if spec.cadence is Cadence.daily:
        return dg.DailyPartitionsDefinition(start_date=start, end_offset=0)
    if spec.cadence is Cadence.weekly:
        # Weeks start on the start date's weekday, so no delivery before the first full week is lost.
        return dg.WeeklyPartitionsDefinition(start_date=start, day_offset=spec.start_date.isoweekday() % 7)
    if spec.cadence is Cadence.monthly:
        return dg.MonthlyPartitionsDefinition(start_date=start)
    if spec.cadence is Cadence.adhoc:
        return dg.DynamicPartitionsDefinition(name=dynamic_partitions_name(spec))
    return dg.TimeWindowPartitionsDefinition(cron_schedule=_CRON[spec.cadence], start=start, fmt=KEY_FORMAT)


def dynamic_partitions_name(spec: SourceSpec) -> str:
    return f"{spec.provider}__{spec.table}__deliveries"


def window_of(partitions_def: dg.PartitionsDefinition, key: str) -> tuple[dt.date, dt.date]:
    """[start, end) dates of a time partition key."""
    window = partitions_def.time_window_for_partition_key(key)  # type: ignore[attr-defined]
    return window.start.date(), window.end.date()


def selection_of(partitions_def: dg.PartitionsDefinition, keys: list[str]) -> PartitionSelection:
    """The lake selection for partition keys: the covering time range, or the keys themselves."""
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        start = partitions_def.time_window_for_partition_key(keys[0]).start
        end = partitions_def.time_window_for_partition_key(keys[-1]).end
        return PartitionSelection.key_range(start.strftime(KEY_FORMAT), end.strftime(KEY_FORMAT))
    return PartitionSelection.of_keys(keys)
