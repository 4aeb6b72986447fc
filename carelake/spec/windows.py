"""A feed's delivery windows as plain date arithmetic over its cadence, and when each is due.

Every time partition key is the window start formatted `%Y-%m-%d`, whatever the cadence, so a key
range of any cadence is a plain string range over the `_partition` column of a table. The Dagster
partitions built from a spec (`platform_assets/partitions.py`) have exactly these windows (a test
compares them), so the engine, the simulator and Spark never need Dagster to know a window.
"""

from __future__ import annotations

import datetime as dt

from carelake.spec import Cadence, SourceSpec

KEY_FORMAT = "%Y-%m-%d"

# Months per window and the months a window may start in, for the calendar cadences.
_MONTHS = {Cadence.monthly: 1, Cadence.quarterly: 3, Cadence.semiannual: 6, Cadence.yearly: 12}


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _step(spec: SourceSpec, start: dt.date, windows: int) -> dt.date:
    """The window start `windows` windows after (or before, if negative) the window starting at `start`."""
    if spec.cadence is Cadence.daily:
        return start + dt.timedelta(days=windows)
    if spec.cadence is Cadence.weekly:
        return start + dt.timedelta(weeks=windows)
    if spec.cadence in _MONTHS:
        return _add_months(start, _MONTHS[spec.cadence] * windows)
    raise ValueError(f"{spec.key}: adhoc (one-off) feeds have no windows")


def first_window_start(spec: SourceSpec) -> dt.date:
    """The start of the feed's first window: the first window boundary on or after `start_date`."""
    start = spec.start_date
    if spec.cadence in (Cadence.daily, Cadence.weekly):
        return start  # weeks start on the start date's weekday
    if spec.cadence in _MONTHS:
        months = _MONTHS[spec.cadence]
        first = dt.date(start.year, 1, 1)
        while first < start:
            first = _add_months(first, months)
        return first
    raise ValueError(f"{spec.key}: adhoc (one-off) feeds have no windows")


def window_start(spec: SourceSpec, day: dt.date) -> dt.date:
    """The start of the window containing `day` (its partition key, parsed)."""
    if spec.cadence is Cadence.daily:
        return day
    if spec.cadence is Cadence.weekly:
        return day - dt.timedelta(days=(day - spec.start_date).days % 7)
    if spec.cadence in _MONTHS:
        months = _MONTHS[spec.cadence]
        return dt.date(day.year, (day.month - 1) // months * months + 1, 1)
    raise ValueError(f"{spec.key}: adhoc (one-off) feeds have no windows")


def window_of(spec: SourceSpec, key: str) -> tuple[dt.date, dt.date]:
    """[start, end) dates of a time partition key."""
    start = dt.date.fromisoformat(key)
    return start, _step(spec, start, 1)


def previous_key(spec: SourceSpec, key: str) -> str | None:
    """The partition key before `key`, or None for the feed's first window."""
    before = _step(spec, dt.date.fromisoformat(key), -1)
    return before.strftime(KEY_FORMAT) if before >= first_window_start(spec) else None


def keys_between(spec: SourceSpec, start: str, end: str) -> list[str]:
    """The partition keys of the windows starting in [start, end), both window boundaries."""
    begin, stop = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    day = max(window_start(spec, begin), first_window_start(spec))
    if day < begin:
        day = _step(spec, day, 1)
    keys = []
    while day < stop:
        keys.append(day.strftime(KEY_FORMAT))
        day = _step(spec, day, 1)
    return keys


def window_end(spec: SourceSpec, key: str) -> dt.datetime:
    """The UTC time the window of partition `key` closes (midnight UTC of its end date)."""
    return dt.datetime.combine(window_of(spec, key)[1], dt.time(), dt.UTC)


def expected_delivery(spec: SourceSpec, key: str) -> dt.datetime | None:
    """The UTC time the delivery for partition `key` is due: the window's end plus `spec.due_hours`
    (`freshness.due_hours` or the cadence's default; None for adhoc feeds: no schedule)."""
    if spec.cadence is Cadence.adhoc:
        return None
    return window_end(spec, key) + dt.timedelta(hours=spec.due_hours)


def warning_time(spec: SourceSpec, key: str) -> dt.datetime | None:
    """The UTC time an unfinished partition `key` becomes a freshness warning: the window's end plus
    `freshness.warn_hours` (None without warn_hours, or for adhoc feeds)."""
    if spec.cadence is Cadence.adhoc or spec.freshness.warn_hours is None:
        return None
    return window_end(spec, key) + dt.timedelta(hours=spec.freshness.warn_hours)


def last_window_due(spec: SourceSpec, now: dt.datetime) -> str | None:
    """The key of the latest window whose partition is due by `now` (None if none is due yet)."""
    # A window is due once its end (a midnight) is at most `now - due_hours`, i.e. its end date at most that day.
    latest_end = (now - dt.timedelta(hours=spec.due_hours)).date()
    start = window_start(spec, latest_end - dt.timedelta(days=1))
    if _step(spec, start, 1) > latest_end:
        start = _step(spec, start, -1)
    return start.strftime(KEY_FORMAT) if start >= first_window_start(spec) else None


def next_key(spec: SourceSpec, key: str) -> str:
    """The partition key after `key`."""
    return _step(spec, dt.date.fromisoformat(key), 1).strftime(KEY_FORMAT)


def first_key(spec: SourceSpec) -> str:
    """The feed's first partition key."""
    return first_window_start(spec).strftime(KEY_FORMAT)


def hours_late(expected: dt.datetime | None, delivered_at: dt.datetime) -> float:
    """How many hours after its due time a file arrived (0 if on time or unscheduled)."""
    if expected is None:
        return 0.0
    return max(0.0, (delivered_at - expected).total_seconds() / 3600)
