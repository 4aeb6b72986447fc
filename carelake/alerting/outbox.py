"""The outbox: every message an alert gives a recipient, stored before it is sent, so that a
message outlives the sensor tick that made it, a retry never doubles it, and a restart resumes.

One row per (alert cause, recipient) under a unique dedup key: enqueueing the same cause again is
a no-op. Sending takes the due rows, and each ends `sent`, or `pending` with its next attempt
after an exponential backoff, or `failed` after the last attempt (logged; the pipeline never
hears of it). Alerts in a feed's maintenance window are stored as `suppressed`, never sent.

The same table holds the last state of every watched subject (a check on a partition, a run, a
sensor), so a state is alerted once when it changes, not on every tick. SQLite by default (one
file beside the lake), PostgreSQL in production: any SQLAlchemy URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from carelake.alerting import Alert
from carelake.alerting.routing import Recipient

_META = sa.MetaData()
MESSAGES = sa.Table(
    "carelake_alert_messages", _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
    sa.Column("alert_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("recipient_kind", sa.String(16), nullable=False),
    sa.Column("recipient_target", sa.String(256), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the alert and the recipient, as JSON
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | sent | failed | suppressed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
)
STATES = sa.Table(
    "carelake_alert_states", _META,
    sa.Column("subject", sa.String(512), primary_key=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("changed_at", sa.Float, nullable=False),
)
_MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class Message:
    id: int
    alert: Alert
    recipient: Recipient
    owners: str
    attempts: int
    status: str
    last_error: str | None


class DeliveryFailed(Exception):
    """A channel refused or could not take a message; the text names the channel and status, no content."""


def _encode(alert: Alert, recipient: Recipient, owners: str) -> str:
    return json.dumps({
        "kind": alert.kind, "severity": alert.severity.value, "title": alert.title, "cause": alert.cause,
        "feed": alert.feed, "asset": alert.asset, "partitions": list(alert.partitions), "facts": [list(f) for f in alert.facts],
        "links": [list(link) for link in alert.links], "incident": alert.incident, "resolves": alert.resolves,
        "at": alert.at.isoformat(), "owners": owners,
        "recipient": {"kind": recipient.kind, "target": recipient.target, "why": recipient.why, "webhook_env": recipient.webhook_env},
    })


def decode(payload: str) -> tuple[Alert, Recipient, str]:
    from carelake.alerting import Severity

    data = json.loads(payload)
    alert = Alert(
        kind=data["kind"], severity=Severity(data["severity"]), title=data["title"], cause=data["cause"], feed=data["feed"],
        asset=data["asset"], partitions=tuple(data["partitions"]), facts=tuple(tuple(f) for f in data["facts"]),
        links=tuple(tuple(link) for link in data["links"]), incident=data["incident"], resolves=data["resolves"],
        at=dt.datetime.fromisoformat(data["at"]),
    )
    return alert, Recipient(**data["recipient"]), data["owners"]


class Outbox:
    def __init__(self, url: str):
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        _META.create_all(self.engine, checkfirst=True)

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- states ---------------------------------------------------------------------------------
    def states(self, subjects: list[str] | None = None, prefix: str | None = None) -> dict[str, str]:
        """The last known state of each of `subjects` (or of every subject starting with `prefix`); unknown ones are absent."""
        query = sa.select(STATES.c.subject, STATES.c.state)
        found: dict[str, str] = {}
        with self._tx() as conn:
            if prefix is not None:
                return dict(conn.execute(query.where(STATES.c.subject.startswith(prefix, autoescape=True))).all())
            unique = sorted(set(subjects or []))
            for start in range(0, len(unique), 500):
                found.update(conn.execute(query.where(STATES.c.subject.in_(unique[start:start + 500]))).all())
        return found

    def set_states(self, changes: dict[str, str], now: float) -> None:
        if not changes:
            return
        with self._tx() as conn:
            conn.execute(STATES.delete().where(STATES.c.subject.in_(list(changes))))
            conn.execute(STATES.insert(), [{"subject": s, "state": v, "changed_at": now} for s, v in changes.items()])

    # -- messages -------------------------------------------------------------------------------
    def enqueue(self, alert: Alert, recipients: list[Recipient], owners: str, now: float, suppressed: bool = False) -> int:
        """Store one message per recipient (a recipient already holding this cause is skipped); the number stored."""
        rows = []
        for recipient in recipients:
            key = hashlib.sha256(f"{alert.cause}\x00{recipient.key}".encode()).hexdigest()
            rows.append({
                "dedup_key": key, "alert_id": alert.id, "kind": alert.kind, "severity": alert.severity.value,
                "recipient_kind": recipient.kind, "recipient_target": recipient.target,
                "payload": _encode(alert, recipient, owners), "status": "suppressed" if suppressed else "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now,
            })
        if not rows:
            return 0
        with self._tx() as conn:
            known = set(conn.execute(sa.select(MESSAGES.c.dedup_key).where(MESSAGES.c.dedup_key.in_([r["dedup_key"] for r in rows]))).scalars())
            new = [r for r in rows if r["dedup_key"] not in known]
            if new:
                conn.execute(MESSAGES.insert(), new)
        return len(new)

    def due(self, now: float, limit: int = 200) -> list[Message]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(MESSAGES).where(MESSAGES.c.status == "pending", MESSAGES.c.next_attempt_at <= now)
                .order_by(MESSAGES.c.id).limit(limit)
            ).mappings().all()
        return [self._message(r) for r in rows]

    def messages(self, status: str | None = None) -> list[Message]:
        query = sa.select(MESSAGES).order_by(MESSAGES.c.id)
        if status is not None:
            query = query.where(MESSAGES.c.status == status)
        with self._tx() as conn:
            return [self._message(r) for r in conn.execute(query).mappings().all()]

    @staticmethod
    def _message(row: sa.RowMapping) -> Message:
        alert, recipient, owners = decode(row["payload"])
        return Message(row["id"], alert, recipient, owners, row["attempts"], row["status"], row["last_error"])

    def deliver(self, send: Callable[[Message], None], now: float, max_attempts: int, backoff: float,
                log: Callable[[str], None]) -> dict[str, int]:
        """Send every due message once; returns counts by outcome (sent, retrying, failed)."""
        outcome = {"sent": 0, "retrying": 0, "failed": 0}
        for message in self.due(now):
            try:
                send(message)
            except DeliveryFailed as exc:
                attempts = message.attempts + 1
                final = attempts >= max_attempts
                wait = min(backoff * 2 ** (attempts - 1), _MAX_BACKOFF)
                values = {"attempts": attempts, "last_error": str(exc), "status": "failed" if final else "pending",
                          "next_attempt_at": now + wait}
                outcome["failed" if final else "retrying"] += 1
                log(f"alert {message.alert.kind} to {message.recipient.key}: attempt {attempts} of {max_attempts} failed ({exc}); "
                    + ("giving up" if final else f"retrying in {wait:.0f} s"))
            else:
                values = {"attempts": message.attempts + 1, "status": "sent", "sent_at": now, "last_error": None}
                outcome["sent"] += 1
            with self._tx() as conn:
                conn.execute(MESSAGES.update().where(MESSAGES.c.id == message.id).values(**values))
        return outcome
