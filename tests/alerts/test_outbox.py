"""The outbox on SQLite and on PostgreSQL: a cause is stored once per recipient, a failing channel is
retried with backoff and given up after the last attempt, and the state of a subject survives a restart;
`carelake alerts test` reaches real channels; the production instance's events alert like SQLite's."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from carelake.alerting import Alert, Severity
from carelake.alerting.channels import Sender
from carelake.alerting.outbox import Outbox
from carelake.alerting.routing import Recipient
from carelake.settings import PROJECT_ROOT
from carelake.spec.platform import AlertSettings
from carelake.tools.cli import main
from tests.alerts.test_alert_sensor import Daemon, feeds, texts
from tests.support.runs import materialize

ALERT = Alert(kind="check_failed", severity=Severity.fail, title="raw/testco/members: check x failed", cause="check:x:1",
              feed="testco/members", asset="raw/testco/members", partitions=("2026-10-01",))
QA = [Recipient("slack", "#qa", "owner"), Recipient("email", "qa@carelake.dev", "owner")]


@pytest.fixture(params=["sqlite", "postgres"])
def outbox_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_cause_is_stored_once_per_recipient_and_states_outlive_the_process(outbox_url):
    outbox = Outbox(outbox_url)
    assert outbox.enqueue(ALERT, QA, "team:qa", now=100.0) == 2
    assert outbox.enqueue(ALERT, QA, "team:qa", now=200.0) == 0, "the same cause again (a re-read tick) stores nothing"
    outbox.set_states({"check:x:p1": "fail"}, now=100.0)

    again = Outbox(outbox_url)  # a restarted daemon
    assert again.states(["check:x:p1", "check:x:p2"]) == {"check:x:p1": "fail"}
    assert [m.recipient.key for m in again.due(now=100.0)] == ["slack:#qa", "email:qa@carelake.dev"]


def test_a_failing_channel_is_retried_with_backoff_then_given_up(outbox_url, alert_http):
    outbox = Outbox(outbox_url)
    outbox.enqueue(ALERT, [QA[0]], "team:qa", now=0.0)
    settings = AlertSettings(slack={"base_url": f"{alert_http.url}/api/"})
    alert_http.fail_next["/api/chat.postMessage"] = 99
    logged = []
    send = Sender(settings)

    def deliver(now: float) -> dict:
        return outbox.deliver(send, now, max_attempts=3, backoff=10, log=logged.append)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        assert deliver(0.0) == {"sent": 0, "retrying": 1, "failed": 0}
        assert deliver(5.0) == {"sent": 0, "retrying": 0, "failed": 0}, "not due before its backoff"
        assert deliver(10.0)["retrying"] == 1  # second attempt; the next waits 20 s
        assert deliver(29.0) == {"sent": 0, "retrying": 0, "failed": 0}
        assert deliver(30.0)["failed"] == 1
    (message,) = outbox.messages("failed")
    assert message.attempts == 3 and "HTTP 500" in message.last_error
    assert "giving up" in logged[-1] and "retrying in 10 s" in logged[0]
    assert all("raw/testco" not in line for line in logged), "logs name the channel and status, not the message"


def test_alerts_test_command_reaches_a_teams_real_channels(alert_settings, alert_http, smtp_server, monkeypatch, capsys):
    monkeypatch.setenv("CARELAKE_SOURCES_DIR", str(alert_settings.sources_dir))
    monkeypatch.setenv("CARELAKE_HOME", str(alert_settings.home))
    monkeypatch.setenv("CARELAKE_ALERT_DELIVERY", "send")
    assert main(["alerts", "test", "--to", "team:qa", "--to", "slack:#elsewhere"]) == 0
    out = capsys.readouterr().out
    assert "ok  slack:#qa: sent" in out and "ok  pagerduty:TEST_PAGERDUTY_KEY: sent" in out
    assert sorted(m["channel"] for m in alert_http.slack) == ["#elsewhere", "#qa"]
    assert "the wiring works" in smtp_server.to("qa@carelake.dev")[0]["Subject"]
    assert alert_http.pagerduty[0]["event_action"] == "trigger"

    alert_http.fail_next["/api/chat.postMessage"] = 1
    assert main(["alerts", "test", "--to", "slack:#qa"]) == 1
    assert "FAILED slack:#qa: Slack chat.postMessage to #qa failed: HTTP 500" in capsys.readouterr().err


def test_the_production_instance_alerts_like_the_embedded_one(alert_settings, postgres_url, alert_http, tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAKE_PG_URL", postgres_url)
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    (tmp_path / "pg_home").mkdir()
    with dg.instance_for_test(overrides=config, temp_dir=str(tmp_path / "pg_home")) as instance:
        members = feeds(alert_settings, {"2026-10-01": "MEMBER,STATE\nM1,x\n"})
        daemon = Daemon(alert_settings, instance)
        assert not materialize(members, instance, partition="2026-10-01").success
        daemon.tick()
        daemon.tick()
    assert sorted(c for c, t in texts(alert_http) if "check not_all_quarantined failed" in t) == ["#claims-watchers", "#qa"]
