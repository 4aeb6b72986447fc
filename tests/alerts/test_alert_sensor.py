"""The alert sensor against real local channels: feeds run through Dagster, the sensor ticks with
the cursor the daemon would keep, and what the Slack / PagerDuty recorder and the SMTP server got is
what a team would see: each cause once, on the right channels, with no PHI."""

from __future__ import annotations

import dagster as dg

from carelake.alerting.outbox import Outbox
from sensors.alerts import build_alert_sensor
from tests.support.alerting import PAGERDUTY_KEY
from tests.support.deliveries import deliver
from tests.support.runs import feed_def, materialize, materialize_range
from tests.support.specs import feed_yaml, write_spec

OCTOBER = [f"2026-10-0{d}" for d in (1, 2, 3)]
CANARY = "QZCANARY"  # a value only the delivered rows hold: no payload may carry it
MEMBERS = feed_yaml("members_{date:%Y%m%d}.csv", start="2026-10-01", description="Members whose STATE is checked.") + """\
columns:
  - {name: MEMBER, type: string, nullable: false, phi: member_id}
  - {name: STATE, type: integer}
primary_key: [MEMBER]
"""
CLAIMS = feed_yaml("claims_{date:%Y%m%d}.csv", start="2026-10-01", description="Claims that wait for the members.") + """\
columns:
  - {name: CLAIM, type: string, nullable: false}
primary_key: [CLAIM]
waits_for: [testco/members]
subscribers:
  - {channel: slack, target: "#claims-watchers"}
  - {channel: email, target: analyst@carelake.dev}
"""


class Daemon:
    """Ticks the alert sensor as the daemon does: one sensor definition, the cursor carried between ticks."""

    def __init__(self, settings, instance: dg.DagsterInstance):
        self.sensor = build_alert_sensor(lambda: settings)
        self.instance, self.cursor = instance, None

    def tick(self) -> str:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, sensor_name=self.sensor.name)
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result.skip_message or ""


def feeds(settings, members_rows: dict[str, str]):
    write_spec(settings, "testco", "members", MEMBERS)
    write_spec(settings, "testco", "claims", CLAIMS)
    for day, body in members_rows.items():
        deliver(settings, "testco", f"members_{day.replace('-', '')}.csv", body)
    return feed_def(settings, "testco", "members")[1]


def texts(recorder, late: bool = False) -> list[tuple[str, str]]:
    """(channel, text) of every Slack message; without the late-delivery notices unless `late` (the test
    files are for October, delivered later: each run's landing is also told as late)."""
    return [(m["channel"], m["text"]) for m in recorder.slack if late or "delivered after its due time" not in m["text"]]


def test_an_all_quarantined_partition_alerts_once_on_each_channel_and_clears_when_fixed(alert_settings, instance, alert_http, smtp_server):
    members = feeds(alert_settings, {"2026-10-01": f"MEMBER,STATE\nM1,{CANARY}\nM2,{CANARY}\n"})
    daemon = Daemon(alert_settings, instance)
    result = materialize(members, instance, partition="2026-10-01")
    assert not result.success  # not_all_quarantined blocks, and fails the run

    daemon.tick()
    slack = texts(alert_http)
    # One cause, one alert: the blocking check, not also the run it failed.
    assert sorted(channel for channel, _ in slack) == ["#claims-watchers", "#qa"], slack
    late = [t for _, t in texts(alert_http, late=True) if "delivered after its due time" in t]
    assert len(late) == 2 and late[0].startswith("[INFO] testco/members: 1 file(s) delivered after its due time")
    text = slack[0][1]
    assert "raw/testco/members: blocking check not_all_quarantined failed" in text
    assert "Partitions (1): 2026-10-01" in text and "Owner: team:qa" in text
    assert "http://dagster.test:3000/runs/" in text and "http://dagster.test:3000/assets/raw/testco/members?" in text
    assert [m["Subject"].strip() for m in smtp_server.to("qa@carelake.dev")] == [
        "[carelake fail] raw/testco/members: blocking check not_all_quarantined failed"]
    assert len(smtp_server.to("analyst@carelake.dev")) == 1, "a downstream subscriber hears of the upstream failure"
    (page,) = alert_http.pagerduty
    assert page["event_action"] == "trigger" and page["routing_key"] == PAGERDUTY_KEY and page["payload"]["severity"] == "error"

    daemon.tick()
    daemon.tick()
    assert len(texts(alert_http)) == 2 and len(alert_http.pagerduty) == 1, "a state is told once, not every tick"

    deliver(alert_settings, "testco", "members_20261001.csv", "MEMBER,STATE\nM1,1\nM2,2\n")
    assert materialize(members, instance, partition="2026-10-01").success
    daemon.tick()
    after = [t for _, t in texts(alert_http)[2:]]
    recovered = [t for t in after if "check not_all_quarantined passes again" in t]
    redelivered = [t for t in after if "re-delivered with new contents" in t]
    assert len(recovered) == 2 and len(redelivered) == 2 and len(after) == 4, after
    assert [p["event_action"] for p in alert_http.pagerduty] == ["trigger", "resolve"]
    assert alert_http.pagerduty[0]["dedup_key"] == alert_http.pagerduty[1]["dedup_key"]

    payloads = [c["raw"] for c in alert_http.calls] + [m.as_string() for m in smtp_server.messages]
    assert len(payloads) > 10 and not [p for p in payloads if CANARY in p]


def test_a_backfill_failing_one_check_on_many_partitions_is_one_alert(alert_settings, instance, alert_http):
    members = feeds(alert_settings, {day: "MEMBER,STATE\nM1,x\n" for day in OCTOBER})
    daemon = Daemon(alert_settings, instance)
    assert not materialize_range(members, instance, OCTOBER[0], OCTOBER[-1]).success

    daemon.tick()
    to_qa = [t for channel, t in texts(alert_http) if channel == "#qa"]
    assert len(to_qa) == 1
    assert "check not_all_quarantined failed on 3 partitions" in to_qa[0]
    assert "Partitions (3): 2026-10-01, 2026-10-02, 2026-10-03" in to_qa[0]


def test_slack_answering_500_then_200_delivers_one_message_and_fails_no_run(alert_settings, instance, alert_http):
    members = feeds(alert_settings, {"2026-10-01": "MEMBER,STATE\nM1,x\n"})
    daemon = Daemon(alert_settings, instance)
    materialize(members, instance, partition="2026-10-01")

    alert_http.fail_next["/api/chat.postMessage"] = 4  # the check's and the late notice's messages, first attempt
    first = daemon.tick()
    assert "4 to retry" in first and alert_http.slack == []
    outbox = Outbox(alert_settings.alerts_url)
    assert {m.attempts for m in outbox.messages("pending")} == {1}

    import time

    time.sleep(1.1)  # the first retry waits backoff_seconds (1 s in these settings)
    daemon.tick()
    assert sorted(channel for channel, _ in texts(alert_http)) == ["#claims-watchers", "#qa"]
    daemon.tick()
    assert len(texts(alert_http)) == 2, "a retried message is never doubled"
    assert outbox.messages("pending") == [] and len(outbox.messages("sent")) == len(outbox.messages())


def test_a_run_that_fails_for_another_reason_alerts_with_its_error_but_no_values(alert_settings, instance, alert_http):
    members = feeds(alert_settings, {"2026-10-01": f'MEMBER,STATE\n"{CANARY},1\n'})  # an unterminated quote
    daemon = Daemon(alert_settings, instance)
    assert not materialize(members, instance, partition="2026-10-01").success
    daemon.tick()
    to_qa = [t for channel, t in texts(alert_http) if channel == "#qa"]
    assert len(to_qa) == 1, to_qa
    assert to_qa[0].startswith("[FAIL] Run failed: testco/members 2026-10-01")
    assert "Error: " in to_qa[0] and CANARY not in to_qa[0]


def test_a_feed_in_maintenance_holds_its_alerts(alert_settings, instance, alert_http):
    members = feeds(alert_settings, {"2026-10-01": "MEMBER,STATE\nM1,x\n"})
    path = alert_settings.sources_dir / "testco" / "members.yaml"
    path.write_text(path.read_text() + "alerts:\n  maintenance:\n    - {start: 2020-01-01T00:00:00, end: 2099-01-01T00:00:00, reason: provider migration}\n")
    daemon = Daemon(alert_settings, instance)
    materialize(members, instance, partition="2026-10-01")
    daemon.tick()
    assert alert_http.slack == []
    held = Outbox(alert_settings.alerts_url).messages("suppressed")
    assert {m.recipient.key for m in held} >= {"slack:#qa", "email:qa@carelake.dev"}
