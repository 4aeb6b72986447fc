"""The senders: Slack (bot token `chat.postMessage`, or an incoming webhook), e-mail over SMTP,
PagerDuty Events API v2 (trigger / resolve under the alert's incident key), and the local sink.

Each raises `DeliveryFailed` naming the channel and the status it got, never the message or the
server's reply body. Credentials are read through `carelake.secrets` when a message is sent.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from carelake.alerting import Alert, Severity
from carelake.alerting.outbox import DeliveryFailed, Message
from carelake.secrets import MissingCredential, env_secret
from carelake.spec.platform import AlertSettings

_TIMEOUT = 10
_PAGERDUTY_SEVERITY = {Severity.info: "info", Severity.warn: "warning", Severity.fail: "error"}


def subject(alert: Alert) -> str:
    return f"[carelake {alert.severity.value}] {alert.title}"


class Sender:
    """Sends outbox messages: to the real channels (`local_sink=None`), or appends each to a JSON-lines file."""

    def __init__(self, settings: AlertSettings, local_sink: Path | None = None):
        self.settings = settings
        self.local_sink = local_sink

    def __call__(self, message: Message) -> None:
        if self.local_sink is not None:
            self._local(message)
            return
        try:
            {"slack": self._slack, "email": self._email, "pagerduty": self._pagerduty}[message.recipient.kind](message)
        except MissingCredential as exc:
            raise DeliveryFailed(str(exc)) from None

    def _local(self, message: Message) -> None:
        self.local_sink.parent.mkdir(parents=True, exist_ok=True)
        line = {"to": message.recipient.key, "why": message.recipient.why, "kind": message.alert.kind,
                "severity": message.alert.severity.value, "text": message.alert.text(message.owners)}
        with self.local_sink.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def _slack(self, message: Message) -> None:
        text = message.alert.text(message.owners)
        recipient = message.recipient
        try:
            if recipient.webhook_env:
                url = env_secret(recipient.webhook_env, f"Slack incoming webhook for {recipient.target}")
                response = WebhookClient(url, timeout=_TIMEOUT).send(text=text)
                if response.status_code != 200:
                    raise DeliveryFailed(f"Slack webhook for {recipient.target} answered HTTP {response.status_code}")
                return
            token = env_secret(self.settings.slack.token_env, "Slack bot token for alerts")
            WebClient(token=token, base_url=self.settings.slack.base_url, timeout=_TIMEOUT).chat_postMessage(
                channel=recipient.target, text=text, unfurl_links=False)
        except SlackApiError as exc:
            raise DeliveryFailed(f"Slack chat.postMessage to {recipient.target} failed: HTTP {exc.response.status_code}, "
                                 f"error {exc.response.get('error', 'unknown')!s:.60}") from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryFailed(f"Slack is unreachable for {recipient.target}: {type(exc).__name__}") from None

    def _email(self, message: Message) -> None:
        smtp = self.settings.email
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = smtp.sender, message.recipient.target, subject(message.alert)
        mail.set_content(message.alert.text(message.owners))
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=_TIMEOUT) as server:
                if smtp.starttls:
                    server.starttls()
                if smtp.username_env:
                    server.login(env_secret(smtp.username_env, "SMTP user"), env_secret(smtp.password_env, "SMTP password") or "")
                server.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port} refused the mail to {message.recipient.target}: {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port} failed for {message.recipient.target}: {type(exc).__name__}") from None

    def _pagerduty(self, message: Message) -> None:
        alert = message.alert
        routing_key = env_secret(message.recipient.target, "PagerDuty Events API v2 routing key")
        event = {"routing_key": routing_key, "event_action": "resolve" if alert.resolves else "trigger",
                 "dedup_key": alert.incident or alert.id}
        if not alert.resolves:
            event["payload"] = {
                "summary": alert.title[:1000], "source": "carelake", "severity": _PAGERDUTY_SEVERITY[alert.severity],
                "component": alert.asset or "", "group": alert.feed or "", "class": alert.kind,
                "custom_details": {"owners": message.owners, "partitions": list(alert.partitions[:50]), **dict(alert.facts)},
            }
            event["links"] = [{"href": url, "text": label} for label, url in alert.links]
        request = urllib.request.Request(self.settings.pagerduty.events_url, data=json.dumps(event).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - a configured https URL
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"PagerDuty answered HTTP {exc.code} for {message.recipient.target}") from None
        except OSError as exc:
            raise DeliveryFailed(f"PagerDuty is unreachable: {type(exc).__name__}") from None
        if status != 202:
            raise DeliveryFailed(f"PagerDuty answered HTTP {status} for {message.recipient.target}")
