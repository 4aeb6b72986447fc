"""Spec builders: a spec YAML file written into the test's sources copy, a SourceSpec from a YAML snippet,
a spec loaded by key, and the testco members / claims feeds (claims wait for members)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import yaml

from carelake.settings import Settings
from carelake.spec import SourceSpec
from carelake.spec.loading import load_specs


def feed_yaml(file_pattern: str, *, start: dt.date | str, cadence: str = "daily", folder: str = "testco",
              description: str = "A test feed.") -> str:
    """The head of a spec file (owned by team:qa, delivered to a local landing folder); columns and
    the rest follow it."""
    return textwrap.dedent(f"""\
        description: {description}
        owners: [team:qa]
        cadence: {cadence}
        start_date: {start}
        delivery:
          channel: {{kind: local, path: {folder}}}
          file_pattern: "{file_pattern}"
        """)


def write_spec(settings: Settings, provider: str, table: str, *parts: str) -> Path:
    """Write sources/<provider>/<table>.yaml in the test's sources copy (each part dedented, then joined);
    the path, for messages that name it."""
    path = settings.sources_dir / provider / f"{table}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(textwrap.dedent(p) for p in parts))
    return path


BASE = "provider: testco\ntable: feed\n" + feed_yaml("feed_{date:%Y%m%d}.*", start="2025-03-01")


def spec_of(*parts: str) -> SourceSpec:
    """A SourceSpec from the format / columns part of a YAML file (the rest is a fixed daily feed)."""
    return SourceSpec.model_validate(yaml.safe_load(BASE + "".join(textwrap.dedent(p) for p in parts)))


def feed_spec(settings: Settings, feed: str) -> SourceSpec:
    """The spec of `feed` ('provider/table') as loaded from the test's sources copy."""
    return next(s.spec for s in load_specs(settings.sources_dir) if s.spec.key == feed)


def use_channel(settings: Settings, feed: str, channel: dict) -> None:
    """Rewrite a feed's YAML in the test's sources copy to deliver through `channel`."""
    path = settings.sources_dir / f"{feed}.yaml"
    body = yaml.safe_load(path.read_text())
    body["delivery"]["channel"] = channel
    path.write_text(yaml.safe_dump(body, sort_keys=False))


# --- testco/members and testco/claims: daily feeds whose partitions are open until yesterday ----------

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def members_feed(settings: Settings, severity: str = "error") -> None:
    _daily(settings, "members", "Test members.", f"""
        columns:
          - {{name: MEMBER, nullable: false, phi: member_id}}
          - {{name: STATE}}
        primary_key: [MEMBER]
        validations:
          - {{rule: us_state, column: STATE, severity: {severity}}}
        """)


def claims_feed(settings: Settings, waits_for: str = "[testco/members]") -> None:
    """testco/claims, waiting for `waits_for` and checking that each claim's member is in testco/members."""
    _daily(settings, "claims", "Test claims.", f"""
        columns:
          - {{name: CLAIM, nullable: false}}
          - {{name: MEMBER, nullable: false, phi: member_id}}
        primary_key: [CLAIM]
        waits_for: {waits_for}
        validations:
          - {{rule: references, column: MEMBER, to: testco/members, to_column: MEMBER}}
        """)


def _daily(settings: Settings, table: str, description: str, body: str) -> None:
    """testco/<table>: daily files <table>_YYYYMMDD.csv from three days before yesterday on."""
    head = feed_yaml(f"{table}_{{date:%Y%m%d}}.csv", start=YESTERDAY - dt.timedelta(days=3), description=description)
    write_spec(settings, "testco", table, head, body)
