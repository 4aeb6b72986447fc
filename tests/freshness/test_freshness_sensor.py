"""The freshness sensor on a driven clock, against a real instance and real feed runs: one runless
`freshness` evaluation per table and state change, about the latest due window's partition."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import time_machine

from carelake.settings import Settings
from tests.support.deliveries import deliver
from tests.support.runs import feed_def, materialize
from tests.support.specs import feed_yaml, write_spec

UTC = dt.UTC
RAW = dg.AssetKey(["raw", "testco", "orders"])
TRANSFORMED = dg.AssetKey(["transformed", "testco", "orders"])
CHECK = dg.AssetCheckKey(RAW, "freshness")


def orders_feed(settings: Settings, freshness: str = "{due_hours: 30, warn_hours: 6}") -> None:
    """testco/orders: daily from 2026-10-01; window D closes at D+1 00:00, warns at 06:00, is due at D+2 06:00."""
    write_spec(settings, "testco", "orders", feed_yaml("orders_{date:%Y%m%d}.csv", start="2026-10-01"), f"""
        columns:
          - {{name: ORDER_ID, nullable: false}}
          - {{name: AMOUNT, type: decimal, precision: 8, scale: 2}}
        primary_key: [ORDER_ID]
        validations:
          - {{rule: range, column: AMOUNT, min: 0}}
        freshness: {freshness}
        """)


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, tzinfo=UTC)


class Clock:
    """Ticks of the freshness sensor with its cursor carried between them, its events stored as the daemon
    stores them; a tick returns testco/orders' events."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self, when: dt.datetime) -> list[dg.AssetCheckEvaluation]:
        with time_machine.travel(when, tick=False):
            context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs)
            data = self.defs.resolve_sensor_def("carelake_freshness").evaluate_tick(context)
        for event in data.asset_events:
            self.instance.report_runless_asset_event(event)
        self.cursor = data.cursor
        # The repository's feeds are judged too; these tests follow testco/orders.
        return [e for e in data.asset_events if e.asset_key.path[1:] == ["testco", "orders"]]


def states(events: list[dg.AssetCheckEvaluation]) -> dict[str, tuple[str, str]]:
    """'layer' -> (state, window) of each evaluation."""
    return {e.asset_key.path[0]: (e.metadata["state"].value, e.partition) for e in events}


@pytest.fixture
def orders(settings: Settings, instance: dg.DagsterInstance):  # noqa: ANN201
    orders_feed(settings)
    defs, assets = feed_def(settings, "testco", "orders")
    return defs, assets, Clock(defs, instance)


def arrive(settings: Settings, assets: dg.AssetsDefinition, instance: dg.DagsterInstance, day: int, when: dt.datetime,
           rows: str = "O1,1.00\nO2,2.50\n") -> None:
    """The file of window 2026-10-<day> lands and is materialized through every layer at `when`."""
    deliver(settings, "testco", f"orders_202610{day:02d}.csv", "ORDER_ID,AMOUNT\n" + rows)
    with time_machine.travel(when, tick=False):
        assert materialize(assets, instance, partition=f"2026-10-{day:02d}").success


def test_fresh_then_warn_then_fail_then_fresh_each_change_recorded_once(settings, instance, orders):
    defs, assets, clock = orders
    for day in (3, 4):
        arrive(settings, assets, instance, day, at(day + 1, 2))
    # 10-06 03:00: 10-03 is the latest due window (due 10-05 06:00) and done; 10-05 closed 3 h ago.
    assert states(clock.tick(at(6, 3))) == {"raw": ("fresh", "2026-10-03"), "transformed": ("fresh", "2026-10-03")}
    assert clock.tick(at(6, 4)) == [], "no change, nothing recorded"

    # 10-06 07:00: 10-05 is not there 6 h after its window closed.
    warned = clock.tick(at(6, 7))
    assert states(warned) == {"raw": ("warn", "2026-10-05"), "transformed": ("warn", "2026-10-05")}
    assert all(e.severity is dg.AssetCheckSeverity.WARN and not e.passed for e in warned)
    assert clock.tick(at(6, 20)) == []

    # 10-07 06:00 is its deadline: the delivery never came, and the sensor says so with nothing else happening.
    assert clock.tick(at(7, 5, )) == []
    failed = clock.tick(at(7, 6))
    assert states(failed) == {"raw": ("fail", "2026-10-05"), "transformed": ("fail", "2026-10-05")}
    assert all(e.severity is dg.AssetCheckSeverity.ERROR and not e.passed for e in failed)
    metadata = {k: v.value for k, v in failed[0].metadata.items()}
    assert metadata == {"state": "fail", "window": "2026-10-05", "due_at": "2026-10-07T06:00:00+00:00",
                        "warn_at": "2026-10-06T06:00:00+00:00", "hours_late": 0.0, "delivered": False,
                        "materialized": False, "checks_passed": False}
    later = clock.tick(at(7, 8))
    assert later == [], "still failing: not recorded again"

    # The late file and the next day's arrive: fresh again, once.
    arrive(settings, assets, instance, 5, at(7, 9))
    arrive(settings, assets, instance, 6, at(7, 9))
    recovered = clock.tick(at(7, 10))
    assert states(recovered) == {"raw": ("fresh", "2026-10-05"), "transformed": ("fresh", "2026-10-05")}
    assert all(e.passed for e in recovered)
    assert clock.tick(at(7, 11)) == []

    # What the UI reads: the check's latest evaluation of that partition passed.
    info = instance.event_log_storage.get_asset_check_partition_info([CHECK], partition_keys=["2026-10-05"])
    assert [i.latest_execution_status.value for i in info] == ["SUCCEEDED"]


def test_a_backfill_of_an_old_partition_does_not_clear_a_failure(settings, instance, orders):
    defs, assets, clock = orders
    assert states(clock.tick(at(5, 7)))["raw"] == ("fail", "2026-10-03"), "nothing delivered: the latest due window fails"
    for day in (1, 2):  # history backfilled after the deadline
        arrive(settings, assets, instance, day, at(5, 8))
    assert clock.tick(at(5, 9)) == [], "older partitions do not make the table fresh"
    info = instance.event_log_storage.get_asset_check_partition_info([CHECK], partition_keys=["2026-10-03"])
    assert [i.latest_execution_status.value for i in info] == ["FAILED"]
    arrive(settings, assets, instance, 3, at(5, 10))
    arrive(settings, assets, instance, 4, at(5, 10))
    assert states(clock.tick(at(5, 11)))["raw"] == ("fresh", "2026-10-03")


def test_a_partition_failing_a_blocking_check_is_not_fresh(settings, instance, orders):
    defs, assets, clock = orders
    arrive(settings, assets, instance, 3, at(4, 2))
    # A negative amount fails raw's blocking range check, so transformed is not written for that partition.
    deliver(settings, "testco", "orders_20261004.csv", "ORDER_ID,AMOUNT\nO1,-1.00\n")
    with time_machine.travel(at(5, 2), tick=False):
        assert not materialize(assets, instance, partition="2026-10-04").success
    verdicts = {e.asset_key.path[0]: {k: v.value for k, v in e.metadata.items()} for e in clock.tick(at(6, 7))}
    # 10-04 is due 10-06 06:00: delivered, raw written, but its blocking check failed.
    assert verdicts["raw"] | {"hours_late": 1.0} == {
        "state": "fail", "window": "2026-10-04", "due_at": "2026-10-06T06:00:00+00:00", "warn_at": "2026-10-05T06:00:00+00:00",
        "hours_late": 1.0, "delivered": True, "materialized": True, "checks_passed": False}
    assert (verdicts["transformed"]["state"], verdicts["transformed"]["materialized"]) == ("fail", False)


def test_a_restart_re_emits_nothing(settings, instance, orders):
    defs, assets, clock = orders
    assert len(clock.tick(at(5, 7))) == 2
    restarted = Clock(defs, instance)
    restarted.cursor = clock.cursor  # the stored cursor, read by the new daemon
    assert restarted.tick(at(5, 8)) == []


def test_feed_runs_do_not_plan_the_freshness_check(settings, instance, orders):
    defs, assets, clock = orders
    deliver(settings, "testco", "orders_20261003.csv", "ORDER_ID,AMOUNT\nO1,1.00\n")
    from tests.support.runs import run_request, tick

    with time_machine.travel(at(4, 2), tick=False):
        arrival = tick(defs, instance, "arrivals_local", None)
    (request,) = arrival.run_requests
    result = run_request(assets, instance, request)
    assert result.success
    planned = {e.asset_check_planned_data.asset_check_key.name for e in result.all_events if e.is_asset_check_evaluation_planned} \
        if hasattr(result.all_events[0], "is_asset_check_evaluation_planned") else None
    checked = {e.event_specific_data.check_name for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert "freshness" not in checked and "rows_accounted_for" in checked
    assert planned is None or "freshness" not in planned


def test_a_tick_over_its_time_budget_leaves_the_other_feeds_to_the_next_ticks(settings, instance, orders):
    from sensors.freshness import evaluate_freshness, freshness_targets
    from tests.support.specs import feed_spec

    targets = freshness_targets(feed_spec(settings, key) for key in
                                ("testco/orders", "acme_health/claims", "acme_health/members"))
    cursor, seen = None, []
    for minute in range(4):  # a zero budget: one feed per tick
        events, cursor = evaluate_freshness(instance, targets, cursor, at(5, 7) + dt.timedelta(minutes=minute), budget_s=0)
        seen.append(sorted({"/".join(e.asset_key.path[1:]) for e in events}))
    assert seen == [["testco/orders"], ["acme_health/claims"], ["acme_health/members"], []]
