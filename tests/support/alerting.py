"""Alert channels as real local servers: an HTTP server that records Slack Web API, Slack webhook and
PagerDuty Events API v2 calls (and can be told to fail the next calls), an SMTP server (aiosmtpd);
and a sources folder whose `_platform.yaml` points the alert settings at them."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from carelake.settings import Settings
from tests.support.servers import free_port, loopback_http

SLACK_TOKEN = "xoxb-test-token"
WEBHOOK_ENV, PAGERDUTY_ENV = "TEST_SLACK_WEBHOOK", "TEST_PAGERDUTY_KEY"
PAGERDUTY_KEY = "test-routing-key-0123456789abcdef"


@dataclass
class Recorder:
    """Calls the HTTP server received, by endpoint; `fail_next[path]` answers that many calls with 500."""

    url: str
    calls: list[dict] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list[dict]:
        return [c for c in self.calls if c["path"] == path and c["status"] < 300]

    @property
    def slack(self) -> list[dict]:
        return [c["body"] for c in self.of("/api/chat.postMessage")]

    @property
    def pagerduty(self) -> list[dict]:
        return [c["body"] for c in self.of("/v2/enqueue")]

    @property
    def webhook(self) -> list[dict]:
        return [c["body"] for c in self.of("/webhook")]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            if "json" in content_type:
                body = json.loads(raw or b"{}")
            else:  # slack_sdk posts form-encoded arguments
                from urllib.parse import parse_qs

                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            with recorder.lock:
                failing = recorder.fail_next.get(self.path, 0)
                if failing:
                    recorder.fail_next[self.path] = failing - 1
                status = 500 if failing else {"/v2/enqueue": 202}.get(self.path, 200)
                recorder.calls.append({"path": self.path, "status": status, "body": body,
                                       "auth": self.headers.get("Authorization"), "raw": raw.decode(errors="replace")})
            if self.path.startswith("/api/") and status == 200:
                reply = json.dumps({"ok": True, "channel": body.get("channel"), "ts": "1.0"}).encode()
            elif self.path == "/v2/enqueue" and status == 202:
                reply = json.dumps({"status": "success", "dedup_key": body.get("dedup_key")}).encode()
            else:
                reply = b"ok" if status < 300 else b"internal error"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if reply.startswith(b"{") else "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler


@pytest.fixture
def alert_http() -> Iterator[Recorder]:
    def recorder_of(url: str) -> tuple[Recorder, type[BaseHTTPRequestHandler]]:
        recorder = Recorder(url)
        return recorder, _handler(recorder)

    with loopback_http(recorder_of, "alert-http") as recorder:
        yield recorder


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)

    def to(self, address: str, late: bool = False) -> list:
        """Mails to `address`; without late-delivery notices unless `late`."""
        return [m for m in self.messages if address in m["To"] and (late or "delivered after its due time" not in m["Subject"])]


class _Collect:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's handler hook
        self.box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(_Collect(box), hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def alert_settings(settings: Settings, tmp_path: Path, alert_http: Recorder, smtp_server: Mailbox,
                   monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with alerts sent for real to the local servers: `_platform.yaml`'s alert
    settings point at them, the secrets are in the environment, the outbox is a SQLite file."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv(WEBHOOK_ENV, f"{alert_http.url}/webhook")
    monkeypatch.setenv(PAGERDUTY_ENV, PAGERDUTY_KEY)
    platform_file = settings.sources_dir / "_platform.yaml"
    platform = yaml.safe_load(platform_file.read_text())
    platform["teams"]["qa"] = {"description": "The test team.", "alerts": [
        {"kind": "slack", "channel": "#qa"}, {"kind": "email", "to": "qa@carelake.dev"},
        {"kind": "pagerduty", "routing_key_env": PAGERDUTY_ENV}]}
    platform["alerts"] = {
        "dagster_url": "http://dagster.test:3000",
        "slack": {"base_url": f"{alert_http.url}/api/"},
        "email": {"host": smtp_server.host, "port": smtp_server.port, "sender": "carelake@carelake.dev"},
        "pagerduty": {"events_url": f"{alert_http.url}/v2/enqueue"},
        "operators": [{"kind": "slack", "channel": "#data-platform"}],
        "backoff_seconds": 1,
    }
    platform_file.write_text(yaml.safe_dump(platform, sort_keys=False))
    return dataclasses.replace(settings, alerts_db=f"sqlite:///{tmp_path / 'alerts.db'}", alert_delivery="send", home=tmp_path)
