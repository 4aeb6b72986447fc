"""landed -> raw -> transformed through real Dagster runs, on deliveries whose content we know."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize, materialize_range
from tests.support.specs import feed_yaml, write_spec

CLAIMS = feed_yaml("claims_{date:%Y%m%d}.csv", start="2025-03-01", description="Test claims.") + """\
columns:
  - {name: CLAIM, type: string, nullable: false, target: claim_id}
  - {name: MEMBER, type: string, nullable: false, phi: member_id, target: member_id}
  - {name: SVC_DT, type: date, nullable: false, input_format: "%Y%m%d", target: service_date}
  - {name: AMOUNT, type: decimal, precision: 10, scale: 2, target: amount}
  - {name: UNITS, type: integer}
primary_key: [CLAIM]
"""

DAY_2 = """
    CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS
    C1,M1,20250302,10.50,1
    C2,M2,20250302,20.00,2
    C2,M2,20250302,25.00,3
    C3,,20250302,5.00,1
    C4,M4,2025-03-02,5.00,1
    C5,M5,20250302,1.234,1
    C6,M6,20250302,7.00,x
"""


@pytest.fixture
def claims(settings):
    write_spec(settings, "testco", "claims", CLAIMS)
    deliver(settings, "testco", "claims_20250302.csv", DAY_2)
    defs, assets = feed_def(settings, "testco", "claims")
    return assets, DeltaLake(root=settings.lake_root)


def table(lake: DeltaLake, layer: str) -> pl.DataFrame:
    frame = lake.read([layer, "testco", "claims"], _all())
    return frame.sort("_partition", "_line" if "_line" in frame.columns else "file_name")


def _all():

    return PartitionSelection.everything()


def test_landed_raw_transformed_for_a_partition_give_the_expected_rows(claims, instance):
    assets, lake = claims
    result = materialize(assets, instance, partition="2025-03-02")
    assert result.success, failure_message(result)

    raw = table(lake, "raw")
    assert raw.select("CLAIM", "MEMBER", "UNITS").rows() == [("C1", "M1", 1), ("C2", "M2", 2), ("C2", "M2", 3)]
    assert raw.schema["SVC_DT"] == pl.Date and raw["SVC_DT"].cast(pl.String).unique().to_list() == ["2025-03-02"]
    assert raw["AMOUNT"].cast(pl.String).to_list() == ["10.50", "20.00", "25.00"]
    assert raw["_line"].to_list() == [2, 3, 4] and set(raw["_partition"]) == {"2025-03-02"}

    transformed = table(lake, "transformed")
    assert transformed.columns[:0] == [] and {"claim_id", "member_id", "service_date", "amount", "UNITS"} <= set(transformed.columns)
    assert transformed.sort("claim_id").select("claim_id", "UNITS").rows() == [("C1", 1), ("C2", 3)]


def test_bad_rows_go_to_quarantine_with_reasons_and_every_row_is_accounted_for(claims, instance):
    assets, lake = claims
    result = materialize(assets, instance, partition="2025-03-02")
    assert result.success, failure_message(result)

    quarantine = lake.read(["quarantine", "testco", "claims"], _all()).sort("_line")
    assert quarantine.select("_line", "column", "rule").rows() == [
        (5, "MEMBER", "not_null"),
        (6, "SVC_DT", "type"),
        (7, "AMOUNT", "type"),
        (8, "UNITS", "type"),
    ]
    assert quarantine["reason"][1] == "SVC_DT: expected a date in format %Y%m%d"
    assert quarantine["value"][1] == "2025-03-02"
    assert json.loads(quarantine["record"][3]) == {"CLAIM": "C6", "MEMBER": "M6", "SVC_DT": "20250302", "AMOUNT": "7.00", "UNITS": "x"}
    assert set(quarantine["_file"]) == {"claims_20250302.csv"}

    raw_event = result.asset_materializations_for_node("testco__claims")
    metadata = next(m.metadata for m in raw_event if m.asset_key == dg.AssetKey(["raw", "testco", "claims"]))
    assert metadata["rows_in"].value == 7 == metadata["dagster/row_count"].value + metadata["rows_quarantined"].value
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "rows_accounted_for")
    assert check.passed and check.metadata["rows_lost"].value == 0


def test_rematerializing_a_partition_is_idempotent_and_leaves_other_partitions_alone(claims, settings, instance):
    assets, lake = claims
    deliver(settings, "testco", "claims_20250303.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS\nD1,M9,20250303,1.00,1\n")
    assert materialize(assets, instance, partition="2025-03-02").success
    assert materialize(assets, instance, partition="2025-03-03").success
    before = {layer: table(lake, layer) for layer in ("landed", "raw", "transformed", "quarantine")}
    assert materialize(assets, instance, partition="2025-03-02").success
    after = {layer: table(lake, layer) for layer in ("landed", "raw", "transformed", "quarantine")}
    for layer in ("raw", "transformed", "quarantine"):
        assert after[layer].equals(before[layer]), layer
    assert after["landed"].drop("landed_at").equals(before["landed"].drop("landed_at"))
    assert sorted(set(after["raw"]["_partition"])) == ["2025-03-02", "2025-03-03"]


def test_landed_copies_the_delivery_byte_for_byte_with_its_sha256(claims, settings, instance):
    assets, lake = claims
    assert materialize(assets, instance, partition="2025-03-02", layers=("landed",)).success
    landed = table(lake, "landed")
    source = settings.landing_root / "testco" / "claims_20250302.csv"
    assert landed["sha256"].to_list() == [hashlib.sha256(source.read_bytes()).hexdigest()]
    assert Path(landed["lake_path"][0]).read_bytes() == source.read_bytes()


def test_a_partition_without_a_delivery_fails_naming_the_pattern(claims, instance):
    assets, _ = claims
    result = materialize(assets, instance, partition="2025-03-05", layers=("landed",))
    assert not result.success
    message = failure_message(result)
    assert "testco/claims: no delivery for partition 2025-03-05 matching 'claims_{date:%Y%m%d}.csv'" in message


def test_a_file_missing_a_declared_column_fails_with_file_line_and_fix_and_stays_landed(settings, instance):
    write_spec(settings, "testco", "claims", CLAIMS)
    deliver(settings, "testco", "claims_20250304.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT\nC1,M1,20250304,1.00\n")
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-04")
    assert not result.success
    message = failure_message(result)
    assert "claims_20250304.csv, line 1: the header lacks declared columns ['UNITS']" in message
    assert "Fix: ask the provider to re-send" in message
    lake = DeltaLake(root=settings.lake_root)
    assert table(lake, "landed")["file_name"].to_list() == ["claims_20250304.csv"]
    assert not lake.exists(["raw", "testco", "claims"])


def test_a_failed_blocking_check_stops_the_transformed_layer(settings, instance):
    write_spec(settings, "testco", "claims", CLAIMS + "validations:\n  - {rule: unique, columns: [MEMBER]}\n")
    deliver(settings, "testco", "claims_20250302.csv", DAY_2)
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-02")
    assert not result.success
    assert "blocking checks failed for 1 of 1 partitions (2025-03-02: unique_MEMBER)" in failure_message(result)
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "unique_MEMBER")
    assert not check.passed and check.metadata["duplicate_rows"].value == 2
    materialized = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert materialized == {"landed", "raw"}


def test_a_warn_check_failure_does_not_stop_the_run(settings, instance):
    write_spec(settings, "testco", "claims", CLAIMS + "validations:\n  - {rule: unique, columns: [MEMBER], severity: warn}\n")
    deliver(settings, "testco", "claims_20250302.csv", DAY_2)
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-02")
    assert result.success
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "unique_MEMBER")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_a_partition_range_runs_as_one_run_and_writes_each_partition(settings, instance):
    write_spec(settings, "testco", "claims", CLAIMS)
    for day, n in ((2, 3), (3, 1), (4, 2)):
        rows = "".join(f"C{day}{i},M{i},202503{day:02d},1.00,1\n" for i in range(n))
        deliver(settings, "testco", f"claims_202503{day:02d}.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS\n" + rows)
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize_range(assets, instance, "2025-03-02", "2025-03-04")
    assert result.success, failure_message(result)
    counts = dict(table(DeltaLake(root=settings.lake_root), "transformed").group_by("_partition").len().rows())
    assert counts == {"2025-03-02": 3, "2025-03-03": 1, "2025-03-04": 2}
    status = instance.get_status_by_partition(
        dg.AssetKey(["transformed", "testco", "claims"]), ["2025-03-02", "2025-03-03", "2025-03-04"], assets.partitions_def
    )
    assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}


def test_an_adhoc_feed_ingests_each_delivery_as_its_own_partition(settings, instance):
    write_spec(
        settings, "testco", "claims",
        CLAIMS.replace("cadence: daily", "cadence: adhoc").replace('"claims_{date:%Y%m%d}.csv"', '"drop_*.csv"'),
    )
    deliver(settings, "testco", "drop_history.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS\nH1,M1,20240101,1.00,1\nH2,M2,20240102,2.00,1\n")
    deliver(settings, "testco", "drop_2025_03.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS\nI1,M1,20250301,3.00,1\n")
    _, assets = feed_def(settings, "testco", "claims")
    instance.add_dynamic_partitions("testco__claims__deliveries", ["drop_history.csv", "drop_2025_03.csv"])
    assert materialize(assets, instance, partition="drop_history.csv").success
    assert materialize(assets, instance, partition="drop_2025_03.csv").success
    counts = dict(table(DeltaLake(root=settings.lake_root), "transformed").group_by("_partition").len().rows())
    assert counts == {"drop_history.csv": 2, "drop_2025_03.csv": 1}


def test_a_spec_type_change_needs_every_partition_rewritten_and_an_added_column_does_not(settings, instance):
    """A changed column type re-run for one partition would leave the others with the old type (the
    table then fails to read): it is refused with the fix, and the whole range in one run applies it."""
    write_spec(settings, "testco", "claims", CLAIMS)
    for day in (2, 3):
        deliver(settings, "testco", f"claims_202503{day:02d}.csv", f"CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS\nC{day},M1,202503{day:02d},1.00,7\n")
    _, assets = feed_def(settings, "testco", "claims")
    for day in ("2025-03-02", "2025-03-03"):
        assert materialize(assets, instance, partition=day).success
    lake = DeltaLake(root=settings.lake_root)

    write_spec(settings, "testco", "claims", CLAIMS.replace("{name: UNITS, type: integer}", "{name: UNITS, type: string}"))
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-03")
    assert not result.success
    message = failure_message(result)
    assert "raw/testco/claims" in message and "retyped UNITS (long -> string)" in message
    assert "1 other partition(s) (e.g. 2025-03-02)" in message and "single run" in message
    assert table(lake, "raw")["UNITS"].to_list() == [7, 7]  # untouched, and still readable as one table

    result = materialize_range(assets, instance, "2025-03-02", "2025-03-03")
    assert result.success, failure_message(result)
    assert table(lake, "raw")["UNITS"].to_list() == ["7", "7"]

    write_spec(settings, "testco", "claims", CLAIMS.replace("{name: UNITS, type: integer}", "{name: UNITS, type: string}")
               .replace("primary_key:", "  - {name: NOTE, type: string}\nprimary_key:"))
    deliver(settings, "testco", "claims_20250303.csv", "CLAIM,MEMBER,SVC_DT,AMOUNT,UNITS,NOTE\nC3,M1,20250303,1.00,7,new\n")
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-03")
    assert result.success, failure_message(result)
    assert table(lake, "raw")["NOTE"].to_list() == [None, "new"]
    assert table(lake, "transformed")["NOTE"].to_list() == [None, "new"]
