"""The production profile: the Dagster instance on a real PostgreSQL database (fresh per test)."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import yaml

from carelake.settings import PROJECT_ROOT
from platform_assets.assembly import build_definitions
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, materialize, requested_partitions
from tests.support.specs import feed_yaml, write_spec

def test_the_shipped_postgres_config_runs_feeds_and_automation(settings, postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("CARELAKE_PG_URL", postgres_url)
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    home = tmp_path / "pg_home"
    home.mkdir()
    with dg.instance_for_test(overrides=config, temp_dir=str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        head = feed_yaml("claims_{date:%Y%m%d}.csv", start=yesterday - dt.timedelta(days=2), description="Test claims.")
        write_spec(settings, "testco", "claims", head, """
            columns:
              - {name: CLAIM, type: string, nullable: false}
            """)
        deliver(settings, "testco", f"claims_{yesterday:%Y%m%d}.csv", "CLAIM\nC1\nC2\n")
        defs = build_definitions(settings)
        assets = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "claims"]))
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        result = materialize(assets, instance, partition=yesterday.isoformat(), layers=("landed", "raw"))
        assert result.success, failure_message(result)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert set(requested_partitions(second)) == {"transformed/testco/claims"}
        record = instance.get_latest_materialization_event(dg.AssetKey(["raw", "testco", "claims"]))
        assert record.asset_materialization.metadata["dagster/row_count"].value == 2


def test_the_shipped_local_config_queues_runs_a_few_at_a_time(tmp_path):
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "dagster.local.yaml").read_text())
    home = tmp_path / "local_home"
    home.mkdir()
    with dg.instance_for_test(overrides=config, temp_dir=str(home)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
