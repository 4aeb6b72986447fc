"""Dependency-driven materialization: real automation ticks against a real instance."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from platform_assets.assembly import build_definitions
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, materialize, requested_partitions
from tests.support.specs import feed_yaml, write_spec


def daily_feed(settings, start: dt.date) -> None:
    write_spec(settings, "testco", "claims", feed_yaml("claims_{date:%Y%m%d}.csv", start=start, description="Test claims."), """
        columns:
          - {name: CLAIM, type: string, nullable: false}
        primary_key: [CLAIM]
        """)


def keys(layer: str) -> dg.AssetKey:
    return dg.AssetKey([layer, "testco", "claims"])


def test_a_tick_requests_transformed_after_raw_updates(settings, instance):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    daily_feed(settings, yesterday - dt.timedelta(days=3))
    deliver(settings, "testco", f"claims_{yesterday:%Y%m%d}.csv", "CLAIM\nC1\nC2\n")
    defs = build_definitions(settings)
    assets = defs.resolve_assets_def(keys("raw"))
    partition = yesterday.isoformat()

    result = materialize(assets, instance, partition=partition, layers=("landed", "raw", "transformed"))
    assert result.success, failure_message(result)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # everything is up to date

    assert materialize(assets, instance, partition=partition, layers=("raw",)).success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested_partitions(second) == {"transformed/testco/claims": {partition}}

    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0  # requested once, not on every tick


def test_a_new_landed_partition_flows_to_raw_then_transformed(settings, instance):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    partition = yesterday.isoformat()
    daily_feed(settings, yesterday - dt.timedelta(days=3))
    deliver(settings, "testco", f"claims_{yesterday:%Y%m%d}.csv", "CLAIM\nC1\n")
    defs = build_definitions(settings)
    assets = defs.resolve_assets_def(keys("raw"))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert materialize(assets, instance, partition=partition, layers=("landed",)).success

    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested_partitions(second) == {"raw/testco/claims": {partition}}
    assert materialize(assets, instance, partition=partition, layers=("raw",)).success

    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert requested_partitions(third) == {"transformed/testco/claims": {partition}}
