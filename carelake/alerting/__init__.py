"""Alerts: what happened, to whom it goes, and a durable outbox that sends each message once.

The engine half of alerting, without Dagster: an `Alert` is built by the alert sensor
(`sensors/alerts.py`) from the instance's events; `routing` finds its recipients in the specs and
`sources/_platform.yaml`; `outbox` stores one message per recipient under a dedup key and sends
it with retries; `channels` are the senders (Slack, SMTP, PagerDuty, the local sink).

An alert is built from names, keys and counts only: never a row value, never a library's error
text (a parser's message can quote a row), so no message can carry PHI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """info: worth knowing (a late file, a recovery); warn: needs a look; fail: broken, may page."""

    info = "info"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Alert:
    """One cause, told once. `cause` identifies it (messages are deduplicated on it per recipient);
    `incident` pairs a PagerDuty trigger with its resolve (None: nothing to resolve later)."""

    kind: str  # e.g. check_failed, check_recovered, freshness_fail, run_failed, late_delivery
    severity: Severity
    title: str
    cause: str
    feed: str | None = None  # provider/table
    asset: str | None = None  # raw/provider/table
    partitions: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()  # (label, value): counts, states, times
    links: tuple[tuple[str, str], ...] = ()  # (label, url)
    incident: str | None = None
    resolves: bool = False
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def id(self) -> str:
        return hashlib.sha256(self.cause.encode()).hexdigest()[:24]

    def text(self, owners: str = "") -> str:
        """The message as plain text, the same on every channel (Slack, e-mail body, PagerDuty details)."""
        lines = [f"[{self.severity.value.upper()}] {self.title}"]
        if self.asset:
            lines.append(f"Asset: {self.asset}")
        if self.partitions:
            shown = ", ".join(self.partitions[:10])
            more = f" and {len(self.partitions) - 10} more" if len(self.partitions) > 10 else ""
            lines.append(f"Partitions ({len(self.partitions)}): {shown}{more}")
        if owners:
            lines.append(f"Owner: {owners}")
        lines += [f"{label}: {value}" for label, value in self.facts]
        lines += [f"{label}: {url}" for label, url in self.links]
        return "\n".join(lines)


def partition_list(keys: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(keys)))
