"""Cadence -> Dagster partitions, with the windows of `carelake.spec.windows` (key = window start,
`%Y-%m-%d`), and a run's partition keys -> the lake selection they cover."""

from __future__ import annotations

import dagster as dg

from carelake.names import deliveries_partitions_name
from carelake.spec import Cadence, SourceSpec
from carelake.spec.windows import KEY_FORMAT

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
        return dg.DynamicPartitionsDefinition(name=deliveries_partitions_name(spec))
    return dg.TimeWindowPartitionsDefinition(cron_schedule=_CRON[spec.cadence], start=start, fmt=KEY_FORMAT)
