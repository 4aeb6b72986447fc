"""What the freshness settings mean and which are refused at spec load, and the pure judgement over windows."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from pydantic import ValidationError

from carelake.freshness import PartitionFacts, State, has_freshness, judge, next_change, windows_to_judge
from carelake.spec import SourceSpec
from tests.support.specs import BASE

DONE = PartitionFacts(delivered=True, materialized=True, checks_passed=True)


def feed(cadence: str = "daily", freshness: dict | None = None, start: str = "2025-03-01") -> SourceSpec:
    """testco/feed with a cadence and freshness settings, validated as a spec file is."""
    body = yaml.safe_load(BASE) | {"cadence": cadence, "start_date": start, "columns": [{"name": "A"}]}
    if freshness is not None:
        body["freshness"] = freshness
    if cadence == "adhoc":
        body["delivery"]["file_pattern"] = "feed_*.csv"
    return SourceSpec.model_validate(body)


def test_a_warning_must_come_before_the_deadline():
    with pytest.raises(ValidationError, match=r"warn_hours \(30\) must be less than due_hours \(24\)"):
        feed(freshness={"due_hours": 24, "warn_hours": 30})
    with pytest.raises(ValidationError, match=r"due_hours \(24 \(the daily default\)\)"):
        feed(freshness={"warn_hours": 24})
    assert feed(freshness={"warn_hours": 6}).due_hours == 24


def test_an_adhoc_feed_has_no_freshness_check_and_refuses_a_deadline():
    with pytest.raises(ValidationError, match="an adhoc feed has no delivery windows"):
        feed("adhoc", {"due_hours": 24})
    assert not has_freshness(feed("adhoc")) and has_freshness(feed("yearly"))


@pytest.mark.parametrize(("cadence", "hours"), [("daily", 24), ("weekly", 48), ("monthly", 72), ("quarterly", 168),
                                                ("semiannual", 336), ("yearly", 720)])
def test_each_cadence_has_a_default_deadline(cadence, hours):
    assert feed(cadence).due_hours == hours


def test_a_yearly_feed_is_due_thirty_days_after_the_year_closes():
    spec, facts = feed("yearly", start="2020-01-01"), {"2024-01-01": DONE}
    before = judge(spec, dt.datetime(2026, 1, 30, 23, tzinfo=dt.UTC), facts)  # 2025 due 2026-01-31 00:00
    assert (before.state, before.window) == (State.fresh, "2024-01-01")
    after = judge(spec, dt.datetime(2026, 1, 31, 1, tzinfo=dt.UTC), facts)
    assert (after.state, after.window, after.hours_late) == (State.fail, "2025-01-01", 1.0)


def test_only_the_latest_due_window_counts_so_history_does_not_make_a_table_fresh():
    spec = feed(freshness={"due_hours": 30, "warn_hours": 6})
    now = dt.datetime(2025, 3, 20, 12, tzinfo=dt.UTC)  # 03-18 is due (03-20 06:00); 03-19 closed at 03-20 00:00
    assert windows_to_judge(spec, now) == ["2025-03-18", "2025-03-19"]
    history = {f"2025-03-{d:02d}": DONE for d in range(1, 18)}
    verdict = judge(spec, now, history)
    assert (verdict.state, verdict.window, verdict.hours_late) == (State.fail, "2025-03-18", 6.0)
    assert judge(spec, now, history | {"2025-03-18": DONE}).state is State.warn  # 03-19 not in 6 h after it closed
    assert judge(spec, now, history | {"2025-03-18": DONE, "2025-03-19": DONE}).state is State.fresh
    assert next_change(spec, now) == dt.datetime(2025, 3, 21, 6, tzinfo=dt.UTC)  # 03-19's deadline, 03-20's warning


def test_before_the_first_window_closes_there_is_nothing_to_judge():
    spec = feed()
    assert judge(spec, dt.datetime(2025, 3, 1, 23, tzinfo=dt.UTC), {}) is None
    assert judge(spec, dt.datetime(2025, 3, 2, 1, tzinfo=dt.UTC), {}).state is State.fresh  # closed, not yet due
