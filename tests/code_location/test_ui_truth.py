"""What the Dagster UI shows after range runs, single runs and backfills is what the runs did: each
partition's checks and numbers recorded on their own, and automation that follows old partitions."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
)

from carelake.tools.simulation import Simulator
from platform_assets.feeds import asset_key
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize, materialize_range
from tests.support.specs import feed_spec, feed_yaml, write_spec

OCTOBER = [f"2026-10-0{d}" for d in (1, 2, 3)]
STATES = feed_yaml("claims_{date:%Y%m%d}.csv", start="2026-10-01", description="Test claims with a blocking state rule.") + """\
columns:
  - {name: CLAIM, type: string, nullable: false}
  - {name: STATE, type: string}
primary_key: [CLAIM]
validations:
  - {rule: us_state, column: STATE}
"""


def check_statuses(instance: dg.DagsterInstance, assets: dg.AssetsDefinition, partitions: list[str]) -> dict:
    """(check, partition) -> the status the UI shows for that partition's check."""
    infos = instance.event_log_storage.get_asset_check_partition_info(list(assets.check_keys), partition_keys=partitions)
    return {(info.check_key.name, info.partition_key): info.latest_execution_status for info in infos}


def simulated_october(settings, instance, rows: int = 50):
    defs, assets = feed_def(settings, "acme_health", "claims")
    spec = feed_spec(settings, "acme_health/claims")
    Simulator(settings.landing_root, seed=2, rows_per_delivery=rows).simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 4))
    result = materialize_range(assets, instance, OCTOBER[0], OCTOBER[-1])
    assert result.success, failure_message(result)
    return defs, assets


def test_a_range_run_records_every_partitions_checks_as_passed_not_skipped(settings, instance):
    _, assets = simulated_october(settings, instance)
    statuses = check_statuses(instance, assets, OCTOBER)
    assert len(statuses) == len(assets.check_keys) * len(OCTOBER)
    assert set(statuses.values()) == {AssetCheckExecutionRecordStatus.SUCCEEDED}


def test_each_partition_of_a_range_carries_its_own_numbers(settings, instance):
    simulated_october(settings, instance, rows=50)
    raw = asset_key("raw", feed_spec(settings, "acme_health/claims"))
    for partition in OCTOBER:
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=raw, asset_partitions=[partition]), limit=5).records
        assert len(records) == 1, "one materialization per partition, not one per partition per layer result"
        metadata = records[0].asset_materialization.metadata
        assert metadata["rows_in"].value == 50 and metadata["dagster/row_count"].value == 50
        assert metadata["quarantine_table"].value.endswith("/quarantine/acme_health/claims")


def test_a_failing_partition_blocks_only_itself_and_the_run_names_it(settings, instance):
    write_spec(settings, "testco", "claims", STATES)
    for day, state in zip(OCTOBER, ["NY", "ZZ", "CA"], strict=True):
        deliver(settings, "testco", f"claims_{day.replace('-', '')}.csv", f"CLAIM,STATE\nC{day[-1]},{state}\n")
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize_range(assets, instance, OCTOBER[0], OCTOBER[-1])

    assert not result.success
    assert "blocking checks failed for 1 of 3 partitions (2026-10-02: us_state_STATE)" in failure_message(result)
    statuses = check_statuses(instance, assets, OCTOBER)
    assert [statuses[("us_state_STATE", day)] for day in OCTOBER] == [
        AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED, AssetCheckExecutionRecordStatus.SUCCEEDED]
    assert instance.get_materialized_partitions(dg.AssetKey(["transformed", "testco", "claims"])) == {"2026-10-01", "2026-10-03"}
    transformed = DeltaLake(root=settings.lake_root).read(["transformed", "testco", "claims"], PartitionSelection.everything())
    assert sorted(transformed["CLAIM"]) == ["C1", "C3"]


def test_backfilling_old_raw_partitions_requests_exactly_their_transformed_partitions_once(settings, instance):
    defs, assets = simulated_october(settings, instance, rows=5)
    transformed = asset_key("transformed", feed_spec(settings, "acme_health/claims"))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0, "nothing on the first tick: no never-materialized history is requested"

    backfill = dg.materialize([assets], instance=instance, selection=dg.AssetSelection.assets(asset_key("raw", feed_spec(settings, "acme_health/claims"))),
                              tags={"dagster/asset_partition_range_start": OCTOBER[0], "dagster/asset_partition_range_end": OCTOBER[1]})
    assert backfill.success, failure_message(backfill)
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.get_requested_partitions(transformed) == set(OCTOBER[:2])
    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0, "requested once"


def test_a_partition_where_every_row_was_quarantined_fails_instead_of_looking_green(settings, instance):
    write_spec(settings, "testco", "claims", STATES.replace("  - {name: STATE, type: string}", "  - {name: STATE, type: integer}"))
    deliver(settings, "testco", "claims_20261001.csv", "CLAIM,STATE\nC1,NY\nC2,CA\n")  # no STATE is an integer
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2026-10-01")
    assert not result.success
    assert "not_all_quarantined" in failure_message(result)
    statuses = check_statuses(instance, assets, ["2026-10-01"])
    assert statuses[("not_all_quarantined", "2026-10-01")] == AssetCheckExecutionRecordStatus.FAILED
