"""`carelake alerts test --to ...` (check the wiring of one channel, a team or a feed's routing) and
`carelake alerts list` (what the outbox holds: sent, to retry, given up, held in maintenance)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from carelake.alerting import Alert, Severity
from carelake.alerting.channels import Sender
from carelake.alerting.outbox import DeliveryFailed, Message, Outbox
from carelake.alerting.routing import Recipient, route, team_recipients
from carelake.settings import Settings
from carelake.spec.loading import load_catalog


def add_parser(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser("alerts", help="test alert channels; list the alert outbox")
    verbs = alerts.add_subparsers(dest="verb", required=True)
    test = verbs.add_parser("test", help="send a test alert: to one channel, a team's channels or a feed's recipients")
    test.add_argument("--to", required=True, action="append", metavar="TARGET",
                      help="slack:#channel, email:address, pagerduty:ROUTING_KEY_ENV, team:name or feed:provider/table (repeatable)")
    listing = verbs.add_parser("list", help="the outbox's messages, newest last")
    listing.add_argument("--status", choices=["pending", "sent", "failed", "suppressed"])
    listing.add_argument("--last", type=int, default=20)


def alerts_command(settings: Settings, args: argparse.Namespace) -> int:
    return _test(settings, args) if args.verb == "test" else _list(settings, args)


def _recipients(target: str, settings: Settings) -> tuple[list[Recipient], str, str | None]:
    """(recipients, owners text, feed) for one --to target."""
    kind, _, value = target.partition(":")
    catalog = load_catalog(settings.sources_dir, settings.spec_cache_file)
    if kind in ("slack", "email", "pagerduty") and value:
        return [Recipient(kind, value, "carelake alerts test")], "carelake alerts test", None
    if kind == "team" and value in catalog.platform.teams:
        return team_recipients(target, catalog.platform, "carelake alerts test")[0], target, None
    if kind == "feed":
        specs = {loaded.spec.key: loaded.spec for loaded in catalog.feeds}
        if value in specs:
            routing = route(Alert("test", Severity.fail, "", "", feed=value), specs, catalog.platform)
            return routing.recipients, routing.owners, value
    raise SystemExit(f"carelake alerts test: --to {target!r} is not slack:#channel, email:address, pagerduty:ENV, "
                     "a team of sources/_platform.yaml (team:name) or a feed (feed:provider/table)")


def _test(settings: Settings, args: argparse.Namespace) -> int:
    catalog = load_catalog(settings.sources_dir, settings.spec_cache_file)
    sender = Sender(catalog.platform.alerts, settings.alerts_sink)
    now = dt.datetime.now(dt.UTC)
    failed = 0
    for target in args.to:
        recipients, owners, feed = _recipients(target, settings)
        if not recipients:
            print(f"{target}: no recipients (no channels configured)", file=sys.stderr)
            failed += 1
        alert = Alert(kind="test", severity=Severity.info, title=f"carelake test alert for {target}: the wiring works",
                      cause=f"test:{target}:{now.isoformat()}", feed=feed, facts=(("Sent at", now.isoformat(timespec="seconds")),),
                      links=(("Dagster", settings.dagster_url or catalog.platform.alerts.dagster_url),))
        for recipient in recipients:
            try:
                sender(Message(0, alert, recipient, owners, 0, "pending", None))
            except DeliveryFailed as exc:
                print(f"FAILED {recipient.key}: {exc}", file=sys.stderr)
                failed += 1
            else:
                where = f"written to the local sink {settings.alerts_sink}" if settings.alerts_sink else "sent"
                print(f"ok  {recipient.key}: {where} ({recipient.why})")
    if settings.alerts_sink:
        print("(CARELAKE_ALERT_DELIVERY=local: nothing left this machine; set CARELAKE_ALERT_DELIVERY=send to use the channels)")
    return 1 if failed else 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    messages = Outbox(settings.alerts_url).messages(args.status)[-args.last:]
    for m in messages:
        at = m.alert.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
        error = f"  last error: {m.last_error}" if m.last_error else ""
        print(f"{at}  {m.status:10} {m.recipient.key:32} {m.alert.severity.value:4}  {m.alert.title}{error}")
    if not messages:
        print("the alert outbox is empty" + (f" for status {args.status}" if args.status else ""))
    return 0
