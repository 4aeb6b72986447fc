"""Freshness: is the partition of a feed's latest due window there, materialized with its blocking checks
passed, by its deadline? Pure logic over a feed's windows (`carelake.spec.windows`) and what is known
about a few partitions; no Dagster, no I/O, `now` given.

One judgement per table (raw or transformed), about the windows that matter at `now`:

- fail: the latest due window (deadline = window end + `due_hours`) is not done;
- warn: that one is done (or none is due yet), but a closed window whose deadline is still ahead is
  not done `warn_hours` after it closed;
- fresh: otherwise.

Only those windows count, so materializing or backfilling an older partition never makes a stale
table look fresh, and a delivery that never arrives fails at its deadline with nothing to trigger it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from carelake.names import FRESHNESS_CHECK as CHECK_NAME  # noqa: F401 - the check's one name, re-exported
from carelake.spec import Cadence, SourceSpec
from carelake.spec.windows import expected_delivery, first_key, last_window_due, next_key, warning_time, window_end



class State(StrEnum):
    fresh = "fresh"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class PartitionFacts:
    """What is known about one partition of one table."""

    delivered: bool = False  # a file for the window has landed
    materialized: bool = False  # the table has the partition
    checks_passed: bool = False  # every blocking check of the table passed on its latest materialization
    pending: bool = False  # the run of its latest materialization is still going: its checks are not all in yet

    @property
    def done(self) -> bool:
        return self.materialized and self.checks_passed


NOTHING = PartitionFacts()


@dataclass(frozen=True)
class Verdict:
    """A table's freshness at one moment, about one window (its partition key)."""

    state: State
    window: str
    due_at: dt.datetime
    warn_at: dt.datetime | None
    hours_late: float
    facts: PartitionFacts

    @property
    def passed(self) -> bool:
        return self.state is State.fresh

    def metadata(self) -> dict[str, str | float | bool]:
        """The check evaluation's metadata: no values from the data, only times and flags."""
        body: dict[str, str | float | bool] = {"state": self.state.value, "window": self.window, "due_at": self.due_at.isoformat()}
        if self.warn_at is not None:
            body["warn_at"] = self.warn_at.isoformat()
        return {**body, "hours_late": round(self.hours_late, 2), "delivered": self.facts.delivered,
                "materialized": self.facts.materialized, "checks_passed": self.facts.checks_passed}


def has_freshness(spec: SourceSpec) -> bool:
    """Whether a feed gets freshness checks: every feed with windows (adhoc feeds have no deadline)."""
    return spec.cadence is not Cadence.adhoc


def windows_to_judge(spec: SourceSpec, now: dt.datetime) -> list[str]:
    """The partition keys a verdict at `now` may depend on: the latest due window and the closed windows
    after it (their deadlines still ahead). Empty before the feed's first window closes."""
    due = last_window_due(spec, now)
    keys = [due] if due else []
    key = next_key(spec, due) if due else first_key(spec)
    while window_end(spec, key) <= now:
        keys.append(key)
        key = next_key(spec, key)
    return keys


def judge(spec: SourceSpec, now: dt.datetime, facts: Mapping[str, PartitionFacts] | Callable[[str], PartitionFacts]) -> Verdict | None:
    """The table's freshness at `now` from the facts of the keys `windows_to_judge` names (a missing key:
    nothing known, not done). None when there is nothing to judge yet (no window has closed)."""
    fact = facts if callable(facts) else (lambda key: facts.get(key, NOTHING))
    due = last_window_due(spec, now)
    if due is not None and not fact(due).done:
        due_at = expected_delivery(spec, due)
        return Verdict(State.fail, due, due_at, warning_time(spec, due), (now - due_at).total_seconds() / 3600, fact(due))
    closed = [k for k in windows_to_judge(spec, now) if k != due]
    for key in closed:
        warn_at = warning_time(spec, key)
        if warn_at is not None and warn_at <= now and not fact(key).done:
            return Verdict(State.warn, key, expected_delivery(spec, key), warn_at, 0.0, fact(key))
    window = due or (closed[0] if closed else None)
    if window is None:
        return None
    return Verdict(State.fresh, window, expected_delivery(spec, window), warning_time(spec, window), 0.0, fact(window))


def next_change(spec: SourceSpec, now: dt.datetime) -> dt.datetime:
    """The next moment after `now` at which a verdict can change with no new facts: the next warning time
    or deadline of any window (a window's close alone changes nothing: its warning comes after it)."""
    key = last_window_due(spec, now)
    key = next_key(spec, key) if key else first_key(spec)
    moments: list[dt.datetime] = []
    while True:
        moments += [t for t in (warning_time(spec, key), expected_delivery(spec, key)) if t and t > now]
        if moments and window_end(spec, key) > now:
            return min(moments)  # later windows' times all come after this open window's
        key = next_key(spec, key)
