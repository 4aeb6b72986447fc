"""Checks declared in YAML become Dagster asset checks, evaluated per partition with masked samples."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from carelake.spec.loading import SpecError
from platform_assets.assembly import build_definitions
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, materialize, materialize_range
from tests.support.specs import feed_yaml, write_spec

DAY1, DAY2 = "2026-03-01", "2026-03-02"

MEMBERS = feed_yaml("members_{date:%Y%m%d}.csv", start="2026-01-01", description="Test members with eligibility spans.") + """\
columns:
  - {name: MEMBER, nullable: false, phi: member_id}
  - {name: ELIG_START, type: date}
  - {name: ELIG_END, type: date}
  - {name: BIRTH, type: date, phi: birth_date}
"""

CLAIMS = feed_yaml("claims_{date:%Y%m%d}.csv", start="2026-01-01", description="Test claims with every kind of rule.") + """\
columns:
  - {name: CLAIM, nullable: false}
  - {name: LINE, type: integer}
  - {name: MEMBER, phi: member_id}
  - {name: DOB, type: date, phi: birth_date}
  - {name: SVC_DT, type: date}
  - {name: PAID_DT, type: date}
  - {name: NPI}
  - {name: DX}
  - {name: PROC}
  - {name: STATE}
  - {name: ZIP, phi: zip}
  - {name: LINE_AMT, type: decimal}
  - {name: TOTAL, type: decimal}
validations:
  - {rule: npi, column: NPI, severity: warn}
  - {rule: icd10_cm, column: DX, severity: warn}
  - {rule: hcpcs, column: PROC, severity: warn}
  - {rule: us_state, column: STATE, severity: warn}
  - {rule: zip, column: ZIP, severity: warn}
  - {rule: not_in_future, column: SVC_DT, severity: warn}
  - {rule: date_order, columns: [DOB, SVC_DT, PAID_DT], severity: warn}
  - {rule: regex, column: CLAIM, pattern: "C[0-9]+", severity: warn}
  - {rule: range, column: LINE_AMT, min: 0, max: 1000, severity: warn}
  - {rule: range, column: SVC_DT, min: 2026-01-01, severity: warn}
  - {rule: length, column: CLAIM, max: 3, severity: warn}
  - {rule: expression, sql: "LINE_AMT <= TOTAL", name: line_within_total, severity: warn}
  - {rule: sum_equals, group_by: [CLAIM], column: LINE_AMT, total_column: TOTAL, severity: warn}
  - {rule: references, column: MEMBER, to: testco/members, to_column: MEMBER, severity: warn}
  - {rule: eligible, member_column: MEMBER, date_column: SVC_DT, to: testco/members, to_member_column: MEMBER,
     start_column: ELIG_START, end_column: ELIG_END, severity: warn}
  - {rule: after_birth, member_column: MEMBER, date_column: SVC_DT, to: testco/members, to_member_column: MEMBER,
     birth_column: BIRTH, severity: warn}
  - {rule: unique, columns: [CLAIM, LINE], severity: warn}
  - {rule: unique_across_partitions, columns: [CLAIM, LINE], severity: warn}
  - {rule: row_count, min: 3, severity: warn}
  - {rule: row_count_change, max_drop: 0.3, severity: warn}
  - {rule: quarantine_rate, max: 0.1, severity: warn}
"""

HEADER = "CLAIM,LINE,MEMBER,DOB,SVC_DT,PAID_DT,NPI,DX,PROC,STATE,ZIP,LINE_AMT,TOTAL\n"
GOOD = [
    "C1,1,M100,1950-01-01,2026-02-27,2026-03-01,1234567893,E11.9,99213,NY,10001,40.00,100.00",
    "C1,2,M100,1950-01-01,2026-02-27,2026-03-01,1234567893,E11.9,J3490,NY,10001,60.00,100.00",
    "C2,1,M200,1960-05-05,2026-02-28,2026-03-01,1245319599,I10,99214,PR,00901,80.00,80.00",
    "C3,1,M200,1960-05-05,2026-02-28,2026-03-01,1245319599,I10,99214,PR,00901,10.00,10.00",
]
# Day 2: one row per broken rule, so every count below is exactly one (or one claim's rows).
DAY2_ROWS = [
    "C4,1,M100,1950-01-01,2026-03-01,2026-03-02,1234567890,V065,9921,XX,1234,50.00,50.00",  # npi dx proc state zip
    "C5,1,M200,1980-01-01,2026-03-01,2026-02-01,1245319599,I10,99213,NY,10001,20.00,30.00",  # paid < svc; sum != total
    "C1,1,M999,1950-01-01,2026-03-01,2026-03-02,1245319599,I10,99213,NY,10001,10.00,10.00",  # unknown member; C1/1 again
    "C6,1,M300,1950-01-01,2099-01-01,2099-01-02,1245319599,I10,99213,NY,10001,9.00,9.00",   # future; M300 not eligible then
    "X7777,1,M200,1960-05-05,2026-03-01,2026-03-02,1245319599,I10,99213,NY,10001,2000.00,1.00",  # regex length range expr
]


@pytest.fixture
def claims(settings, instance):
    write_spec(settings, "testco", "members", MEMBERS)
    write_spec(settings, "testco", "claims", CLAIMS)
    deliver(settings, "testco", "members_20260301.csv", "MEMBER,ELIG_START,ELIG_END,BIRTH\nM100,2025-01-01,,1950-01-01\nM200,2026-01-01,2026-12-31,1960-05-05\n"
            "M300,2026-01-01,2026-06-30,2100-01-01\n")
    deliver(settings, "testco", "claims_20260301.csv", HEADER + "\n".join(GOOD) + "\n")
    deliver(settings, "testco", "claims_20260302.csv", HEADER + "\n".join(DAY2_ROWS) + "\nC8,not-a-number,M100,,,,,,,,,1,1\n")
    defs = build_definitions(settings)
    members = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "members"]))
    assert materialize(members, instance, partition=DAY1).success
    return defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "claims"]))


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_clean_partition_passes_every_declared_check(claims, instance):
    result = materialize(claims, instance, partition=DAY1)
    assert result.success, failure_message(result)
    checks = evaluations(result)
    assert len(checks) == 23  # rows_accounted_for, not_all_quarantined + 21 declared validations
    assert [name for name, e in checks.items() if not e.passed] == []


def test_each_rule_counts_exactly_its_failing_rows_in_that_partition(claims, instance):
    assert materialize(claims, instance, partition=DAY1).success
    result = materialize(claims, instance, partition=DAY2)
    assert result.success, failure_message(result)  # every rule is a warning: the run goes on
    checks = evaluations(result)
    failing = {name: e.metadata["failing_rows"].value for name, e in checks.items() if "failing_rows" in e.metadata}
    assert failing == {
        "npi_NPI": 1, "icd10_cm_DX": 1, "hcpcs_PROC": 1, "us_state_STATE": 1, "zip_ZIP": 1,
        "not_in_future_SVC_DT": 1, "date_order_DOB_SVC_DT_PAID_DT": 1, "regex_CLAIM": 1, "range_LINE_AMT": 1,
        "range_SVC_DT": 0, "length_CLAIM": 1, "line_within_total": 1, "sum_equals_TOTAL": 2,
        "references_MEMBER": 1, "eligible_MEMBER": 2, "after_birth_SVC_DT": 1, "unique_CLAIM_LINE": 0, "unique_across_partitions_CLAIM_LINE": 1,
    }
    assert all(e.metadata["rows_checked"].value == 5 for name, e in checks.items() if name in failing)
    assert checks["sum_equals_TOTAL"].metadata["failing_groups"].value == 2
    assert checks["row_count"].passed  # 5 rows >= 3
    assert checks["row_count_change"].metadata["changes"].value == {DAY2: {"previous_rows": 4, "rows": 5, "change": 0.25}}
    rates = checks["quarantine_rate"].metadata["quarantine_rate"].value
    assert not checks["quarantine_rate"].passed and rates == {DAY2: round(1 / 6, 6)}
    assert {e.severity for n, e in checks.items() if n not in ("rows_accounted_for", "not_all_quarantined")} == {dg.AssetCheckSeverity.WARN}


def test_failing_samples_show_file_and_line_but_mask_phi(claims, instance):
    assert materialize(claims, instance, partition=DAY1).success
    checks = evaluations(materialize(claims, instance, partition=DAY2))
    (sample,) = checks["references_MEMBER"].metadata["failing_sample_masked"].value
    assert sample == {"_partition": DAY2, "_file": "claims_20260302.csv", "_line": 4, "MEMBER": "X999"}
    (npi,) = checks["npi_NPI"].metadata["failing_sample_masked"].value
    assert npi["NPI"] == "1234567890"  # not PHI: shown as delivered
    everything = json.dumps({n: {k: str(v.value) for k, v in e.metadata.items()} for n, e in checks.items()})
    for phi in ("M999", "M100", "M200", "M300", "1950-01-01", "1980-01-01", "\"1234\""):
        assert phi not in everything


def test_row_count_change_fails_on_a_big_drop(claims, instance, settings):
    assert materialize(claims, instance, partition=DAY1).success
    deliver(settings, "testco", "claims_20260302.csv", HEADER + GOOD[0] + "\n")
    checks = evaluations(materialize(claims, instance, partition=DAY2))
    assert not checks["row_count_change"].passed
    assert checks["row_count_change"].metadata["changes"].value[DAY2]["change"] == -0.75
    assert not checks["row_count"].passed  # 1 row < 3


def test_an_error_rule_blocks_transformed_and_a_warn_rule_does_not(settings, instance):
    spec = CLAIMS.split("validations:")[0] + "validations:\n  - {rule: us_state, column: STATE}\n  - {rule: zip, column: ZIP, severity: warn}\n"
    write_spec(settings, "testco", "claims", spec)
    deliver(settings, "testco", "claims_20260302.csv", HEADER + DAY2_ROWS[1] + "\n")
    claims = build_definitions(settings).resolve_assets_def(dg.AssetKey(["raw", "testco", "claims"]))
    bad_zip = DAY2_ROWS[1].replace(",10001,", ",1000,")
    deliver(settings, "testco", "claims_20260302.csv", HEADER + bad_zip + "\n")
    result = materialize(claims, instance, partition=DAY2)
    assert result.success and not evaluations(result)["zip_ZIP"].passed
    assert dg.AssetKey(["transformed", "testco", "claims"]) in {e.asset_key for e in result.get_asset_materialization_events()}
    deliver(settings, "testco", "claims_20260302.csv", HEADER + bad_zip.replace(",NY,", ",ZZ,") + "\n")
    result = materialize(claims, instance, partition=DAY2)
    assert not result.success and "blocking checks failed for 1 of 1 partitions (2026-03-02: us_state_STATE)" in failure_message(result)
    assert dg.AssetKey(["transformed", "testco", "claims"]) not in {e.asset_key for e in result.get_asset_materialization_events()}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{rule: regex, column: CLAIM, pattern: '(['}", "is not a valid regular expression"),
        ("{rule: expression, sql: 'LINE_AMT <<>> TOTAL'}", "is not a valid SQL expression"),
        ("{rule: npi, column: NOPE}", "unknown columns ['NOPE']"),
        ("{rule: range, column: LINE_AMT}", "range needs min, max or both"),
        ("{rule: references, column: MEMBER, to: members, to_column: MEMBER}", "validations[0].to"),
        ("{rule: lunh, column: NPI}", "validations[0]"),
        ("{rule: range, column: CLAIM, min: 2020-01-01}", "range on CLAIM needs a date / datetime column, but CLAIM is string"),
        ("{rule: date_order, columns: [SVC_DT, NPI]}", "date_order on NPI needs a date / datetime column"),
    ],
)
def test_rule_mistakes_are_caught_at_load_time_with_the_file(settings, rule, message):
    write_spec(settings, "testco", "claims", CLAIMS.split("validations:")[0] + f"validations:\n  - {rule}\n")
    with pytest.raises(SpecError) as caught:
        build_definitions(settings)
    assert message in str(caught.value) and "claims.yaml" in str(caught.value)


def test_references_match_ids_across_column_types(tmp_path):
    from types import SimpleNamespace

    import polars as pl

    from carelake.quality.registry import build_rule
    from carelake.spec import References
    from resources.lake import DeltaLake
    from resources.selection import PartitionSelection

    lake = DeltaLake(root=str(tmp_path / "lake"))
    feb, mar = PartitionSelection.of_keys(["2026-02-01"]), PartitionSelection.of_keys(["2026-03-01"])
    lake.replace(["raw", "testco", "members"], pl.DataFrame({"MEMBER": [1, 2], "_partition": ["2026-02-01"] * 2}), feb)
    lake.replace(["raw", "testco", "claims"], pl.DataFrame({"MEMBER": ["1", "3", None], "_partition": ["2026-03-01"] * 3}), mar)
    rule = References(rule="references", column="MEMBER", to="testco/members", to_column="MEMBER")
    claims = SimpleNamespace(provider="testco", table="claims", columns=[])
    passed, metadata = build_rule(rule, claims).evaluate(lake, mar)
    assert not passed and (metadata["rows_checked"], metadata["failing_rows"]) == (3, 1)


def test_a_range_run_attributes_failing_rows_to_each_partition(claims, instance):
    result = materialize_range(claims, instance, DAY1, DAY2)
    assert result.success, failure_message(result)
    by_partition = {(e.check_name, e.partition): e for e in result.get_asset_check_evaluations()}
    npi = {day: by_partition[("npi_NPI", day)] for day in (DAY1, DAY2)}
    assert [npi[day].passed for day in (DAY1, DAY2)] == [True, False]
    assert [npi[day].metadata["failing_rows"].value for day in (DAY1, DAY2)] == [0, 1]
    assert sum(npi[day].metadata["rows_checked"].value for day in (DAY1, DAY2)) == 9
    assert "failing_sample_masked" not in npi[DAY1].metadata
    assert {row["_partition"] for row in npi[DAY2].metadata["failing_sample_masked"].value} == {DAY2}
    rates = [by_partition[("quarantine_rate", day)].metadata["quarantine_rate"].value for day in (DAY1, DAY2)]
    assert rates == [{DAY1: 0.0}, {DAY2: round(1 / 6, 6)}]
