"""The `freshness` check itself: declared for raw and transformed of every feed with windows, kept out of
feed runs (arrival and automation), and giving the sensor's answer when executed by hand."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import time_machine
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests

from tests.support.deliveries import deliver
from tests.support.runs import feed_def, materialize, run_request, tick
from sensors.freshness import FreshnessTarget, judge_target
from tests.support.specs import feed_spec, feed_yaml, write_spec

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def _feed(settings) -> tuple[dg.Definitions, dg.AssetsDefinition]:  # noqa: ANN001
    """testco/orders: daily, its windows open until yesterday, with one blocking rule besides the platform's."""
    write_spec(settings, "testco", "orders", feed_yaml("orders_{date:%Y%m%d}.csv", start=YESTERDAY - dt.timedelta(days=2)), """
        columns:
          - {name: ORDER_ID, nullable: false}
        freshness: {due_hours: 30, warn_hours: 6}
        """)
    return feed_def(settings, "testco", "orders")


def _checks_run(result: dg.ExecuteInProcessResult) -> set[str]:
    """The check names a run planned or evaluated."""
    return {e.event_specific_data.check_name for e in result.all_events  # type: ignore[union-attr]
            if e.event_type_value in ("ASSET_CHECK_EVALUATION_PLANNED", "ASSET_CHECK_EVALUATION")}


def test_every_raw_and_transformed_table_with_windows_has_a_freshness_check(settings):
    defs, _ = _feed(settings)
    graph = defs.resolve_asset_graph()
    freshness = {key.asset_key for key in graph.asset_check_keys if key.name == "freshness"}
    windowed = {k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "transformed")}
    assert freshness == windowed and len(windowed) == 2 * 6  # the five repository feeds and testco/orders
    spec = graph.get(dg.AssetCheckKey(dg.AssetKey(["raw", "testco", "orders"]), "freshness"))
    assert not spec.blocking and spec.partitions_def is not None
    sensor = defs.resolve_sensor_def("carelake_freshness")
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING


def test_arrival_and_automation_runs_leave_the_freshness_check_out(settings, instance):
    defs, assets = _feed(settings)
    deliver(settings, "testco", f"orders_{YESTERDAY:%Y%m%d}.csv", "ORDER_ID\nO1\n")
    (request,) = tick(defs, instance, "arrivals_local", None).run_requests
    assert "freshness" not in {k.name for k in request.asset_check_keys}
    result = run_request(assets, instance, request)
    assert result.success and "rows_accounted_for" in _checks_run(result) and "freshness" not in _checks_run(result)

    # Automation after a landed-only run: it requests raw, with raw's own checks and not freshness.
    key = YESTERDAY.isoformat()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    deliver(settings, "testco", f"orders_{YESTERDAY:%Y%m%d}.csv", "ORDER_ID\nO1\nO2\n")
    assert materialize(assets, instance, partition=key, layers=("landed",)).success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    subsets = [r.true_subset for r in second.results if r.true_subset.size]
    requests = build_run_requests(subsets, defs.resolve_asset_graph(), None, emit_backfills=False)
    (raw_request,) = [r for r in requests if dg.AssetKey(["raw", "testco", "orders"]) in r.asset_selection]
    names = {k.name for k in raw_request.asset_check_keys or []}
    assert "rows_accounted_for" in names and "freshness" not in names


def test_executed_by_hand_it_gives_the_sensors_answer(settings, instance):
    defs, assets = _feed(settings)
    raw = dg.AssetKey(["raw", "testco", "orders"])
    # Nothing delivered: the first window is due 30 h after it closed.
    first = (YESTERDAY - dt.timedelta(days=2)).isoformat()
    now = dt.datetime.combine(YESTERDAY, dt.time(12), dt.UTC)
    with time_machine.travel(now, tick=False):
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        sensor = defs.resolve_sensor_def("carelake_freshness").evaluate_tick(context)
        # As the UI's "Execute" on the check launches it: the asset job, the check alone, one partition.
        job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_check_selection={dg.AssetCheckKey(raw, "freshness")})
        by_hand = job.execute_in_process(instance=instance, raise_on_error=False)
    assert by_hand.success
    (ran,) = [e.event_specific_data for e in by_hand.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    (told,) = [e for e in sensor.asset_events if e.asset_key == raw]
    assert (ran.passed, ran.partition, ran.severity, ran.metadata) == (told.passed, told.partition, told.severity, told.metadata)
    assert (told.partition, told.metadata["state"].value) == (first, "fail")


def test_a_range_run_from_the_ui_that_adds_the_check_succeeds_with_the_sensors_answer(settings, instance):
    """A UI backfill or materialization adds every check of the asset: the range run still succeeds."""
    defs, assets = _feed(settings)
    raw = dg.AssetKey(["raw", "testco", "orders"])
    checks = defs.get_asset_checks_def(dg.AssetCheckKey(raw, "freshness"))
    days = [YESTERDAY - dt.timedelta(days=n) for n in (2, 1)]
    for day in days:
        deliver(settings, "testco", f"orders_{day:%Y%m%d}.csv", "ORDER_ID\nO1\n")
    tags = {"dagster/asset_partition_range_start": days[0].isoformat(), "dagster/asset_partition_range_end": days[1].isoformat()}
    result = dg.materialize([assets, checks], instance=instance, selection=dg.AssetSelection.assets(raw, ["landed", "testco", "orders"]), tags=tags, raise_on_error=False)
    assert result.success
    (ran,) = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.event_specific_data.check_name == "freshness"]
    target = FreshnessTarget.of(feed_spec(settings, "testco/orders"))
    expected = judge_target(instance, target, dt.datetime.now(dt.UTC))["raw"]  # what the sensor would say now
    assert (ran.metadata["state"].value, ran.partition) == (expected.state.value, expected.window)
