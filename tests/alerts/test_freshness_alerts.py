"""Freshness as a team hears it: with a driven clock, the freshness sensor and the alert sensor tick as
the daemon would; a window's delivery goes fresh -> warn -> fail (missing) -> fresh again, each told
exactly once on each channel (PagerDuty only for the failure and its resolve), and backfilling an old
partition does not clear the failure."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import time_machine

from platform_assets.assembly import build_definitions
from tests.alerts.test_alert_sensor import Daemon
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, materialize
from tests.support.specs import feed_yaml, write_spec

UTC = dt.UTC
MEMBERS = feed_yaml("members_{date:%Y%m%d}.csv", start="2026-10-01", description="Members due 6 h after each day.") + """\
columns:
  - {name: MEMBER, type: string, nullable: false, phi: member_id}
primary_key: [MEMBER]
freshness: {due_hours: 6, warn_hours: 2}
"""


def pages(recorder) -> list[dict]:
    return [p for p in recorder.pagerduty if p["dedup_key"] == "freshness:testco/members"]


class Clock:
    """The daemon's two sensors ticking at a moment of the driven clock."""

    def __init__(self, settings, instance: dg.DagsterInstance):
        self.settings, self.instance = settings, instance
        self.alerts = Daemon(settings, instance)
        self.freshness_cursor = None

    def tick(self, at: dt.datetime) -> None:
        with time_machine.travel(at, tick=False):
            defs = build_definitions(self.settings)
            sensor = defs.resolve_sensor_def("carelake_freshness")
            context = dg.build_sensor_context(instance=self.instance, cursor=self.freshness_cursor, sensor_name=sensor.name)
            result = sensor.evaluate_tick(context)
            for event in result.asset_events:
                self.instance.report_runless_asset_event(event)
            self.freshness_cursor = result.cursor
            self.alerts.tick()

    def run(self, at: dt.datetime, partition: str) -> None:
        with time_machine.travel(at, tick=True):
            assets = build_definitions(self.settings).resolve_assets_def(dg.AssetKey(["raw", "testco", "members"]))
            result = materialize(assets, self.instance, partition=partition)
            assert result.success, failure_message(result)


def freshness_texts(recorder) -> list[str]:
    """testco/members' freshness alerts on Slack (the repository's own feeds are stale at these dates too)."""
    return [m["text"] for m in recorder.slack if "testco/members" in m["text"].splitlines()[0]
            and any(word in m["text"] for word in ("fresh again", "missing delivery", "stale"))]


def test_fresh_warn_fail_recovered_each_told_once_and_a_backfill_does_not_clear_it(alert_settings, instance, alert_http, smtp_server):
    write_spec(alert_settings, "testco", "members", MEMBERS)
    deliver(alert_settings, "testco", "members_20261001.csv", "MEMBER\nM1\nM2\n")
    clock = Clock(alert_settings, instance)
    clock.run(dt.datetime(2026, 10, 2, 0, 30, tzinfo=UTC), "2026-10-01")

    clock.tick(dt.datetime(2026, 10, 3, 1, 0, tzinfo=UTC))  # 10-01 is done; 10-02 closed an hour ago, not yet warned
    assert freshness_texts(alert_http) == []

    clock.tick(dt.datetime(2026, 10, 3, 3, 0, tzinfo=UTC))  # 10-02 not in 2 h after it closed: warn
    (warn,) = freshness_texts(alert_http)
    assert warn.startswith("[WARN] testco/members: missing delivery for window 2026-10-02")
    assert "Asset: raw/testco/members, transformed/testco/members" in warn, "raw and transformed stale together: one alert"
    assert pages(alert_http) == [], "a warning does not page"

    clock.tick(dt.datetime(2026, 10, 3, 7, 0, tzinfo=UTC))  # past its 6 h deadline: fail
    clock.tick(dt.datetime(2026, 10, 3, 7, 30, tzinfo=UTC))  # still failing: nothing new
    texts = freshness_texts(alert_http)
    assert len(texts) == 2 and texts[1].startswith("[FAIL] testco/members: missing delivery for window 2026-10-02 (due 2026-10-03T06:00:00")
    assert [p["event_action"] for p in pages(alert_http)] == ["trigger"]
    assert [m["Subject"].strip() for m in smtp_server.to("qa@carelake.dev")][-1].startswith("[carelake fail] testco/members: missing delivery")

    clock.run(dt.datetime(2026, 10, 3, 7, 40, tzinfo=UTC), "2026-10-01")  # backfill an old partition
    clock.tick(dt.datetime(2026, 10, 3, 8, 0, tzinfo=UTC))
    assert len(freshness_texts(alert_http)) == 2, "materializing an older window does not make the table fresh"

    deliver(alert_settings, "testco", "members_20261002.csv", "MEMBER\nM1\nM3\n")
    clock.run(dt.datetime(2026, 10, 3, 9, 0, tzinfo=UTC), "2026-10-02")
    clock.tick(dt.datetime(2026, 10, 3, 9, 30, tzinfo=UTC))
    texts = freshness_texts(alert_http)
    assert len(texts) == 3 and texts[2].startswith("[INFO] raw/testco/members, transformed/testco/members fresh again")
    assert [p["event_action"] for p in pages(alert_http)] == ["trigger", "resolve"]
    assert pages(alert_http)[0]["dedup_key"] == pages(alert_http)[1]["dedup_key"] == "freshness:testco/members"
