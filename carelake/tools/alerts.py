"""`carelake alerts test --to ...` (check the wiring of one channel, a team or a feed's routing) and
`carelake alerts list` (what the outbox holds: sent, to retry, given up, held in maintenance)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def demo_alerts(settings: Settings, instance, month_start: dt.date, feeds: list[str]) -> str:  # noqa: ANN001 - a DagsterInstance
    """The demo's alerting: the day after the demo month, the first daily feed's delivery never comes.

    The freshness sensor's judgement of that feed runs at its deadline (plus a minute), then one alert
    tick, both with the demo clock; what the alerts say is printed as the channels would get it. With
    CARELAKE_ALERT_DELIVERY=local (the embedded default) nothing leaves the machine.
    """
    import dagster as dg

    from carelake.spec import Cadence
    from carelake.spec.windows import expected_delivery
    from sensors.alerts import evaluate
    from sensors.freshness import evaluate_freshness, freshness_targets

    catalog = load_catalog(settings.sources_dir, settings.spec_cache_file)
    daily = [loaded.spec for loaded in catalog.feeds if loaded.spec.key in feeds and loaded.spec.cadence is Cadence.daily]
    if not daily:
        return "alerts: no daily feed in the demo, so no missing delivery to show"
    spec = daily[0]
    next_month = (month_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    missing = next_month.isoformat()
    now = expected_delivery(spec, missing) + dt.timedelta(minutes=1)
    events, _ = evaluate_freshness(instance, freshness_targets([spec]), None, now)
    for event in events:
        instance.report_runless_asset_event(event)
    sink = settings.alerts_sink
    before = sink.read_text().count("\n") if sink is not None and sink.exists() else 0
    evaluate(dg.build_sensor_context(instance=instance, sensor_name="carelake_alerts"), settings, now=now)
    lines = [f"Alerts at {now:%Y-%m-%d %H:%M} UTC, when {spec.key}'s delivery for {missing} was due and had not come "
             "(the demo month's checks, late files and that missing delivery):"]
    if sink is None:
        messages = Outbox(settings.alerts_url).messages("sent")
        lines += [f"  sent  {m.recipient.key:34} {m.alert.text().splitlines()[0]}" for m in messages[-20:]]
        return "\n".join(lines)
    sent = [json.loads(line) for line in sink.read_text().splitlines()[before:]] if sink.exists() else []
    shown = {}
    for message in sent:
        shown.setdefault(message["text"].splitlines()[0], []).append(message["to"])
    for title, recipients in shown.items():
        lines.append(f"  {title}\n      to {', '.join(recipients)}")
    if not shown:
        lines.append("  (none)")
    lines.append(f"CARELAKE_ALERT_DELIVERY=local: written to {sink}, nothing sent; `carelake alerts test --to ...` checks a channel")
    return "\n".join(lines)
