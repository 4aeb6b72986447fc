"""The platform's own configuration under `sources/`, reviewed like the feeds but not a feed.

`sources/_platform.yaml` is the central table: teams and the channels their alerts go to, how alerts
are sent (`alerts`: link base URL, Slack / SMTP / PagerDuty servers, retries, operators), the
run-queue priority of each spec `priority`, and the compute shape of each spec `compute.size`.
Channel names and addresses are reviewed config; tokens, webhook URLs and routing keys are
secrets, so only the names of their environment variables appear here (`carelake/secrets.py`).

The other reserved names are rooms for what comes next (`policies/`, `projections/`,
`common_model/`): the feed loader never reads them, and until their loaders exist a file there
is an error rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from carelake.spec import Priority
from carelake.spec.columns import StrictModel

PLATFORM_FILE = "_platform.yaml"
# Folders of `sources/` that hold platform config, not feeds: name -> what will live there.
RESERVED_FOLDERS = {
    "policies": "access policies (roles, table / column / row rules)",
    "projections": "projections (SQL over cataloged tables, written back as tables)",
    "common_model": "the common model every provider's tables map into",
}
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class SlackAlerts(StrictModel):
    kind: Literal["slack"]
    channel: str = Field(pattern=r"^#[a-z0-9_-]+$", description="Slack channel, e.g. #claims-data")
    webhook_env: str | None = Field(default=None, pattern=ENV_NAME, description="variable holding an incoming-webhook URL")


class EmailAlerts(StrictModel):
    kind: Literal["email"]
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PagerDutyAlerts(StrictModel):
    kind: Literal["pagerduty"]
    routing_key_env: str = Field(pattern=ENV_NAME, description="variable holding the Events API v2 routing key")


AlertChannel = Annotated[SlackAlerts | EmailAlerts | PagerDutyAlerts, Field(discriminator="kind")]


class Team(StrictModel):
    description: str = ""
    alerts: list[AlertChannel] = Field(default_factory=list)


class ComputeShape(StrictModel):
    cpu: float = Field(gt=0)
    memory_gb: float = Field(gt=0)


def _default_priorities() -> dict[Priority, int]:
    return {Priority.critical: 20, Priority.high: 10, Priority.normal: 0, Priority.low: -10}


def _default_compute() -> dict[str, ComputeShape]:
    return {
        "small": ComputeShape(cpu=1, memory_gb=2),
        "medium": ComputeShape(cpu=2, memory_gb=8),
        "large": ComputeShape(cpu=8, memory_gb=32),
    }


# ZIP3 prefixes whose population is 20,000 or fewer: HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(B)) has
# them shown as 000. Source: HHS, "Guidance Regarding Methods for De-identification of PHI" (2012),
# from the 2000 Census; review the list when HHS updates it.
RESTRICTED_ZIP3 = ["036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879",
                   "884", "890", "893"]


class Privacy(StrictModel):
    """How the transformed layer tokenises: the HMAC key (an environment variable, never the value) and
    its version, recorded with every transformed table; the low-population ZIP3 prefixes."""

    hmac_key_env: str = Field(default="CARELAKE_HMAC_KEY", pattern=ENV_NAME)
    key_version: int = Field(default=1, ge=1, description="bump when the key rotates; feeds are then fully rewritten")
    restricted_zip3: list[Annotated[str, Field(pattern=r"^[0-9]{3}$")]] = Field(default_factory=lambda: list(RESTRICTED_ZIP3))


class SlackSettings(StrictModel):
    token_env: str = Field(default="SLACK_BOT_TOKEN", pattern=ENV_NAME, description="variable holding the bot token (chat.postMessage)")
    base_url: str = Field(default="https://slack.com/api/", description="Web API base URL (a proxy, or a local server in tests)")


class SmtpSettings(StrictModel):
    host: str = "localhost"
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = Field(default="carelake@localhost", description="the From: address")
    starttls: bool = False
    username_env: str | None = Field(default=None, pattern=ENV_NAME)
    password_env: str | None = Field(default=None, pattern=ENV_NAME)


class PagerDutySettings(StrictModel):
    events_url: str = Field(default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint")


class AlertSettings(StrictModel):
    """How alerts are sent: links, the channels' servers, retries, and who hears about the platform itself."""

    dagster_url: str = Field(default="http://localhost:3000", description="base URL of the Dagster UI, for links in alerts")
    slack: SlackSettings = Field(default_factory=SlackSettings)
    email: SmtpSettings = Field(default_factory=SmtpSettings)
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    operators: list[AlertChannel] = Field(
        default_factory=list,
        description="who hears about the platform itself: a code location that fails to load, a sensor that errors",
    )
    max_attempts: int = Field(default=8, ge=1, description="delivery attempts per message before it is given up (and logged)")
    backoff_seconds: float = Field(default=30, gt=0, description="wait before the first retry; doubles per attempt, at most an hour")


class PlatformConfig(StrictModel):
    """`sources/_platform.yaml`; every key is optional and an absent file means the defaults."""

    teams: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], Team] = Field(default_factory=dict)
    priorities: dict[Priority, int] = Field(default_factory=_default_priorities, description="run-queue priority (dagster/priority)")
    compute: dict[Literal["small", "medium", "large"], ComputeShape] = Field(default_factory=_default_compute)
    privacy: Privacy = Field(default_factory=Privacy)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    local_channel_roots: list[str] = Field(
        default_factory=list,
        description="absolute folders (mounted drives) that local channels may name; anything else must be under the landing root",
    )

    @field_validator("local_channel_roots")
    @classmethod
    def _absolute(cls, roots: list[str]) -> list[str]:
        for root in roots:
            if not Path(root).is_absolute() or ".." in Path(root).parts:
                raise ValueError(f"local_channel_roots entry {root!r} must be an absolute folder without '..'")
        return roots

    def channel_problem(self, path: str) -> str | None:
        """Why a local channel path is not allowed here (None if it is)."""
        if not Path(path).is_absolute() or any(Path(path).is_relative_to(root) for root in self.local_channel_roots):
            return None
        allowed = self.local_channel_roots or "none"
        return (f"delivery.channel.path {path!r} is absolute and not under a local_channel_roots folder of "
                f"sources/_platform.yaml (allowed: {allowed}). Fix: use a folder relative to the landing root, or add "
                "its root to local_channel_roots in a reviewed change")


def is_reserved(sources_dir: Path, path: Path) -> bool:
    """Whether a file under `sources_dir` is platform config (not a feed): `_*` names and the reserved folders."""
    parts = path.relative_to(sources_dir).parts
    return parts[0] in RESERVED_FOLDERS or any(part.startswith("_") for part in parts)


def reserved_problems(sources_dir: Path) -> list[str]:
    """One line per file in a reserved folder whose kind has no loader yet, or an unknown `_*` file."""
    problems = []
    for folder, what in RESERVED_FOLDERS.items():
        for path in sorted((sources_dir / folder).rglob("*")) if (sources_dir / folder).is_dir() else []:
            if path.is_file():
                problems.append(f"{path}: {what} are not supported yet; remove the file (nothing reads it)")
    for path in sorted(sources_dir.rglob("_*")):
        if path.is_file() and path.relative_to(sources_dir) != Path(PLATFORM_FILE):
            problems.append(f"{path}: names starting with '_' are reserved for platform config; the only one is {PLATFORM_FILE}")
    return problems
