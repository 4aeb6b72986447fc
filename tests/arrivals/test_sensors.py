"""Arrival sensors against a real instance: new deliveries request their partitions exactly once."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import dagster as dg
import polars as pl
import pytest

from carelake.settings import Settings
from carelake.spec import SourceSpec
from carelake.spec.patterns import compile_pattern
from carelake.tools.simulation import Fault, FaultRates, Simulator
from platform_assets.feeds import asset_key
from resources.channels import Channels
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from sensors.arrival_cursor import ArrivalCursor
from sensors.arrivals import evaluate_arrivals
from tests.support.deliveries import deliver, set_mtime
from tests.support.runs import failure_message, feed_def, materialize, run_request, tick
from tests.support.specs import feed_spec, feed_yaml, use_channel, write_spec


def requested(data) -> list[tuple[str, str]]:  # noqa: ANN001
    return sorted(("/".join(r.asset_selection[0].path[1:]), r.partition_key) for r in data.run_requests)


def land(assets: dg.AssetsDefinition, instance: dg.DagsterInstance, data) -> None:  # noqa: ANN001 - a tick's SensorExecutionData
    """Land every partition a tick requested (the landed layer only)."""
    for request in data.run_requests:
        assert materialize(assets, instance, partition=request.partition_key, layers=("landed",)).success


@pytest.fixture
def claims(settings):  # noqa: ANN001, ANN201
    """acme_health/claims from the repository's sources: (definitions, assets, spec, a seed-1 simulator)."""
    defs, assets = feed_def(settings, "acme_health", "claims")
    return defs, assets, feed_spec(settings, "acme_health/claims"), Simulator(settings.landing_root, seed=1)


def test_one_arrival_sensor_per_channel_kind(settings, s3_server, s3_env):
    use_channel(settings, "bluepeak_payer/claims", {"kind": "s3", "bucket": "b-unused", "endpoint_url": s3_server.endpoint_url})
    defs, _ = feed_def(settings, "acme_health", "claims")
    names = sorted(s.name for s in defs.sensors if s.name.startswith("arrivals_"))
    assert names == ["arrivals_local", "arrivals_s3"]
    assert defs.resolve_sensor_def("arrivals_local").default_status is dg.DefaultSensorStatus.RUNNING


def test_the_cursor_survives_a_restart_so_each_delivery_is_requested_once(settings, instance, claims):
    defs, assets, spec, sim = claims
    sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 4))
    first = tick(defs, instance, "arrivals_local", None)
    assert requested(first) == [("acme_health/claims", f"2026-10-0{d}") for d in (1, 2, 3)]
    land(assets, instance, first)

    # The sensor is stopped; deliveries keep arriving: two new days and a changed re-delivery of day 1.
    sim.simulate(spec, dt.date(2026, 10, 4), dt.date(2026, 10, 6))
    sim.deliver(spec, (dt.date(2026, 10, 1), dt.date(2026, 10, 2)), version=2)
    restarted = tick(defs, instance, "arrivals_local", first.cursor)
    assert requested(restarted) == [("acme_health/claims", k) for k in ("2026-10-01", "2026-10-04", "2026-10-05")]
    assert {r.run_key for r in restarted.run_requests}.isdisjoint({r.run_key for r in first.run_requests})
    assert requested(tick(defs, instance, "arrivals_local", restarted.cursor)) == []


def test_members_deliveries_request_their_month_and_late_ones_are_tagged(settings, instance):
    defs, _ = feed_def(settings, "acme_health", "members")
    spec = feed_spec(settings, "acme_health/members")
    sim = Simulator(settings.landing_root, seed=1)
    (on_time,) = sim.simulate(spec, dt.date(2026, 9, 1), dt.date(2026, 10, 1)).deliveries
    set_mtime(on_time.path, dt.datetime(2026, 10, 2, 9, tzinfo=dt.UTC))  # due 2026-10-04 00:00
    sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 11, 1), faults=FaultRates({Fault.late: 1.0}))
    data = tick(defs, instance, "arrivals_local", None)
    tags = {r.partition_key: r.tags for r in data.run_requests if r.tags["carelake/feed"] == spec.key}
    assert sorted(tags) == ["2026-09-01", "2026-10-01"]
    assert tags["2026-09-01"]["carelake/late"] == "false" and tags["2026-10-01"]["carelake/late"] == "true"
    assert float(tags["2026-10-01"]["carelake/late_hours"]) >= 1
    assert tags["2026-10-01"]["carelake/expected_at"] == "2026-11-04T00:00:00+00:00"  # month end + 72 h


def test_a_delivery_for_a_window_still_open_waits_until_the_window_closes(settings, instance):
    spec = feed_spec(settings, "acme_health/members")
    deliver(settings, "acme_health", "ACME_MEMBERS_202611.csv", "MBR_ID\n")
    channels = Channels(root=str(settings.landing_root))
    ctx = dg.build_sensor_context(instance=instance)
    early = evaluate_arrivals(ctx, [spec], channels, dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert early.run_requests == []
    ctx = dg.build_sensor_context(instance=instance, cursor=early.cursor)
    closed = evaluate_arrivals(ctx, [spec], channels, dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC))
    assert [r.partition_key for r in closed.run_requests] == ["2026-11-01"]
    ctx = dg.build_sensor_context(instance=instance, cursor=closed.cursor)
    assert evaluate_arrivals(ctx, [spec], channels, dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).run_requests == []


def test_an_identical_s3_redelivery_requests_nothing(settings, instance, s3_server, s3_env):
    bucket = s3_server.new_bucket()
    use_channel(settings, "acme_health/claims", s3_server.channel(bucket))
    defs, _ = feed_def(settings, "acme_health", "claims")
    spec = feed_spec(settings, "acme_health/claims")
    sim = Simulator(settings.landing_root, seed=1, channels=Channels(root=str(settings.landing_root)))
    window = (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    sim.deliver(spec, window)
    first = tick(defs, instance, "arrivals_s3", None)
    assert requested(first) == [("acme_health/claims", "2026-10-01")]
    sim.deliver(spec, window)  # the same bytes again: same ETag
    assert requested(tick(defs, instance, "arrivals_s3", first.cursor)) == []


ADHOC = feed_yaml("hist_*.csv", start="2026-01-01", cadence="adhoc", folder="histco",
                  description="A one-off historical drop, then incremental files.") + """\
columns:
  - {name: ID, type: string, nullable: false}
  - {name: AMOUNT, type: decimal, precision: 10, scale: 2}
"""


def test_adhoc_deliveries_register_a_dynamic_partition_each_and_materialize(settings, instance):
    write_spec(settings, "histco", "history", ADHOC)
    deliver(settings, "histco", "hist_2008_2010.csv", "ID,AMOUNT\nA,1.00\nB,2.00\n")
    defs, assets = feed_def(settings, "histco", "history")
    first = tick(defs, instance, "arrivals_local", None)
    assert [(r.partitions_def_name, r.partition_keys) for r in first.dynamic_partitions_requests] == [
        ("histco__history__deliveries", ["hist_2008_2010.csv"])]
    assert requested(first) == [("histco/history", "hist_2008_2010.csv")]
    deliver(settings, "histco", "hist_2011_01.csv", "ID,AMOUNT\nC,3.00\n")
    second = tick(defs, instance, "arrivals_local", first.cursor)
    assert requested(second) == [("histco/history", "hist_2011_01.csv")]
    for data in (first, second):
        for req in data.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        for run in data.run_requests:
            result = materialize(assets, instance, partition=run.partition_key)
            assert result.success, failure_message(result)
    assert instance.get_latest_materialization_event(asset_key("transformed", feed_spec(settings, "histco/history"))) is not None


def test_a_changed_redelivery_of_an_old_window_reruns_downstream_and_an_identical_one_does_nothing(settings, instance, claims):
    defs, assets, spec, sim = claims
    old_window = (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 3))
    first = tick(defs, instance, "arrivals_local", None)
    for request in first.run_requests:
        assert sorted(k.path[0] for k in request.asset_selection) == ["landed", "raw", "transformed"]
        result = run_request(assets, instance, request)
        assert result.success, failure_message(result)
    raw_events = lambda: len(instance.fetch_materializations(asset_key("raw", spec), limit=100).records)  # noqa: E731
    assert raw_events() == 2

    changed = sim.deliver(spec, old_window, version=2)
    (request,) = tick(defs, instance, "arrivals_local", first.cursor).run_requests
    assert request.partition_key == "2026-10-01" and run_request(assets, instance, request).success
    assert raw_events() == 3
    lake_raw = DeltaLake(root=settings.lake_root).read(asset_key("raw", spec), PartitionSelection.of_keys(["2026-10-01"]))
    assert sorted(lake_raw["CLM_ID"]) == sorted(pl.read_csv(changed.path, infer_schema=False)["CLM_ID"])

    second = tick(defs, instance, "arrivals_local", None)  # cursor reset: every file looks new
    results = [run_request(assets, instance, r) for r in second.run_requests]
    assert all(r.success for r in results) and all(r.get_asset_materialization_events() == [] for r in results)
    assert raw_events() == 3


def next_tick_is_fast(settings: Settings, spec: SourceSpec, cursor: str) -> bool:
    """Whether a tick from `cursor` skips the landed manifest: no file below the window appeared, changed or left."""
    pattern = compile_pattern(spec.delivery.file_pattern)
    files = [f for f in Channels(root=str(settings.landing_root)).list(spec.delivery.channel).files if pattern.match(f.name)]
    return not ArrivalCursor.parse(cursor).feed(spec.key).older_changed(files)


def days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def window(day: int) -> tuple[dt.date, dt.date]:
    return dt.date(2026, 10, day), dt.date(2026, 10, day + 1)


def test_a_file_delivered_with_an_old_mtime_is_requested_once_and_lands(settings, instance, claims):
    defs, assets, spec, sim = claims
    sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 3))
    first = tick(defs, instance, "arrivals_local", None)
    assert requested(first) == [("acme_health/claims", "2026-10-01"), ("acme_health/claims", "2026-10-02")]

    # `mv`, `cp -p`, `rsync -t` and `sftp put -p` keep the provider's timestamp: days before the watermark.
    moved_in = sim.deliver(spec, window(3))
    set_mtime(moved_in.path, days_ago(3))
    second = tick(defs, instance, "arrivals_local", first.cursor)
    (request,) = second.run_requests
    assert request.partition_key == "2026-10-03"
    assert requested(tick(defs, instance, "arrivals_local", second.cursor)) == []

    result = run_request(assets, instance, request)
    assert result.success, failure_message(result)
    lake_raw = DeltaLake(root=settings.lake_root).read(asset_key("raw", spec), PartitionSelection.of_keys(["2026-10-03"]))
    assert lake_raw.height == moved_in.rows


def test_an_old_file_put_back_unchanged_lands_nothing_new_but_a_changed_one_does(settings, instance, claims, tmp_path):
    defs, assets, spec, sim = claims
    old = sim.deliver(spec, window(1))
    set_mtime(old.path, days_ago(3))
    set_mtime(sim.deliver(spec, window(2)).path, days_ago(0))  # the newest delivery sets the window
    first = tick(defs, instance, "arrivals_local", None)
    land(assets, instance, first)

    # Archived by the provider, then put back with the same bytes, size and mtime: its inode changed (the
    # local fingerprint sees same-size rewrites that keep their mtime), so it is checked once more, and
    # landing it finds the bytes of its current version: no new version, nothing downstream.
    shutil.move(old.path, tmp_path / old.name)
    gone = tick(defs, instance, "arrivals_local", first.cursor)
    shutil.move(tmp_path / old.name, old.path)
    assert not next_tick_is_fast(settings, spec, gone.cursor)
    back = tick(defs, instance, "arrivals_local", gone.cursor)
    assert requested(gone) == []
    assert requested(back) == [("acme_health/claims", "2026-10-01")]
    rerun = materialize(assets, instance, partition="2026-10-01", tags=back.run_requests[0].tags)
    assert rerun.success and not rerun.get_asset_materialization_events(), "an identical re-delivery changes nothing"
    landed = DeltaLake(root=settings.lake_root).read(["landed", "acme_health", "claims"], PartitionSelection.of_keys(["2026-10-01"]))
    assert landed["version"].to_list() == [1]

    changed = sim.deliver(spec, window(1), version=2)
    set_mtime(changed.path, days_ago(2))
    again = tick(defs, instance, "arrivals_local", back.cursor)
    assert requested(again) == [("acme_health/claims", "2026-10-01")]
    assert requested(tick(defs, instance, "arrivals_local", again.cursor)) == []


def test_a_file_removed_from_the_channel_requests_nothing_and_the_next_tick_is_fast(settings, instance, claims):
    defs, assets, spec, sim = claims
    archived, kept = sim.deliver(spec, window(1)), sim.deliver(spec, window(2))
    for delivery, age in ((archived, 3), (kept, 2)):
        set_mtime(delivery.path, days_ago(age))
    sim.deliver(spec, window(3))
    first = tick(defs, instance, "arrivals_local", None)
    assert len(first.run_requests) == 3
    land(assets, instance, first)
    assert next_tick_is_fast(settings, spec, first.cursor)

    archived.path.unlink()  # the provider's SFTP archives files after pickup
    assert not next_tick_is_fast(settings, spec, first.cursor)
    after = tick(defs, instance, "arrivals_local", first.cursor)
    assert after.run_requests == []
    assert next_tick_is_fast(settings, spec, after.cursor)
    # No lake given: a tick that needed the landed manifest would raise.
    context, channels = dg.build_sensor_context(instance=instance, cursor=after.cursor), Channels(root=str(settings.landing_root))
    assert evaluate_arrivals(context, [spec], channels, dt.datetime.now(dt.UTC)).run_requests == []


def test_a_version_2_cursor_is_migrated_and_its_first_tick_finds_what_it_missed(settings, instance, claims):
    defs, assets, spec, sim = claims
    set_mtime(sim.deliver(spec, window(1)).path, days_ago(4))
    sim.deliver(spec, window(2))
    first = tick(defs, instance, "arrivals_local", None)
    land(assets, instance, first)
    # What version 2 stored: watermark, recent files and pending ones, no digest of the older files.
    feeds = json.loads(first.cursor)["feeds"]
    v2 = json.dumps({"v": 2, "feeds": {k: {"w": s["w"], "r": s["r"], "p": s["p"]} for k, s in feeds.items()}})
    missed = sim.deliver(spec, window(3))  # the old sensor never requested this one
    set_mtime(missed.path, days_ago(3))

    migrated = tick(defs, instance, "arrivals_local", v2)
    assert requested(migrated) == [("acme_health/claims", "2026-10-03")]
    assert json.loads(migrated.cursor)["v"] == 3 and next_tick_is_fast(settings, spec, migrated.cursor)
    assert requested(tick(defs, instance, "arrivals_local", migrated.cursor)) == []
    with pytest.raises(ValueError, match="reset the sensor's cursor"):
        ArrivalCursor.parse(json.dumps({"v": 1, "feeds": {}}))


def test_a_historical_adhoc_file_copied_with_its_old_mtime_gets_its_partition(settings, instance):
    write_spec(settings, "histco", "history", ADHOC)
    deliver(settings, "histco", "hist_2011_01.csv", "ID,AMOUNT\nC,3.00\n")
    defs, _ = feed_def(settings, "histco", "history")
    first = tick(defs, instance, "arrivals_local", None)
    assert requested(first) == [("histco/history", "hist_2011_01.csv")]
    archive = deliver(settings, "histco", "hist_2008_2010.csv", "ID,AMOUNT\nA,1.00\nB,2.00\n")
    set_mtime(archive, dt.datetime(2011, 1, 3, tzinfo=dt.UTC))  # `cp -p` from the provider's archive
    second = tick(defs, instance, "arrivals_local", first.cursor)
    assert [(r.partitions_def_name, r.partition_keys) for r in second.dynamic_partitions_requests] == [
        ("histco__history__deliveries", ["hist_2008_2010.csv"])]
    assert requested(second) == [("histco/history", "hist_2008_2010.csv")]
