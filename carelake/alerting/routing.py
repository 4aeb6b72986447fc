"""Who hears about an alert: the feed's owners and subscribers, the subscribers of every feed that
waits for it (they hear about failures upstream of them), or the platform's operators; each through
the channels of its kind, filtered by severity (PagerDuty only pages for `fail` and its resolve)."""

from __future__ import annotations

from dataclasses import dataclass

from carelake.alerting import Alert, Severity
from carelake.spec import SourceSpec
from carelake.spec.platform import EmailAlerts, PagerDutyAlerts, PlatformConfig, SlackAlerts


@dataclass(frozen=True)
class Recipient:
    """Where one message goes: `kind` slack (target a channel), email (an address) or pagerduty (target:
    the environment variable holding the routing key); `why` says how the alert reached it."""

    kind: str
    target: str
    why: str
    webhook_env: str | None = None  # Slack: post through this incoming webhook instead of the bot token

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"


def _channel(channel: SlackAlerts | EmailAlerts | PagerDutyAlerts, why: str) -> Recipient:
    if isinstance(channel, SlackAlerts):
        return Recipient("slack", channel.channel, why, channel.webhook_env)
    if isinstance(channel, EmailAlerts):
        return Recipient("email", channel.to, why)
    return Recipient("pagerduty", channel.routing_key_env, why)


def team_recipients(owner: str, platform: PlatformConfig, why: str) -> tuple[list[Recipient], str | None]:
    """An owner's recipients, and a problem when it names a team the platform config does not know."""
    if not owner.startswith("team:"):
        return [Recipient("email", owner, why)], None
    team = owner.removeprefix("team:")
    if team not in platform.teams:
        return [], f"{owner} has no entry under teams in sources/_platform.yaml"
    return [_channel(c, f"{why} ({owner})") for c in platform.teams[team].alerts], None


def downstream(feed: str, specs: dict[str, SourceSpec]) -> list[SourceSpec]:
    """Every feed that waits for `feed`, directly or through others (nearest first)."""
    found: list[SourceSpec] = []
    frontier = [feed]
    while frontier:
        upstream = frontier.pop(0)
        for spec in specs.values():
            if upstream in spec.waits_for and spec not in found and spec.key != feed:
                found.append(spec)
                frontier.append(spec.key)
    return found


@dataclass(frozen=True)
class Routing:
    recipients: list[Recipient]
    owners: str  # the owners as the message names them
    problems: list[str]  # why someone who should hear it will not (an unknown team)


def route(alert: Alert, specs: dict[str, SourceSpec], platform: PlatformConfig) -> Routing:
    found: list[Recipient] = []
    problems: list[str] = []
    spec = specs.get(alert.feed) if alert.feed else None
    if spec is None:
        found = [_channel(c, "platform operator") for c in platform.alerts.operators]
        owners = "platform operators"
    else:
        for owner in spec.owners:
            recipients, problem = team_recipients(owner, platform, "owner")
            found += recipients
            problems += [problem] if problem else []
        found += [_subscriber(s.channel, s.target, f"subscriber of {spec.key}") for s in spec.subscribers]
        for below in downstream(spec.key, specs):
            found += [_subscriber(s.channel, s.target, f"subscriber of {below.key}, downstream") for s in below.subscribers]
        owners = ", ".join(spec.owners)
    pages = alert.severity is Severity.fail or alert.resolves
    unique: dict[str, Recipient] = {}
    for recipient in found:
        if recipient.kind == "pagerduty" and not pages:
            continue
        unique.setdefault(recipient.key, recipient)
    return Routing(list(unique.values()), owners, problems)


def _subscriber(channel: str, target: str, why: str) -> Recipient:
    return Recipient(channel, target, why)
