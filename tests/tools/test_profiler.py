"""`carelake profile`: types, date formats and PHI found in real DE-SynPUF files, and a draft that ingests."""

from __future__ import annotations

import shutil

import dagster as dg
import yaml

from carelake.tools.cli import main
from carelake.tools.profiling.profiler import profile_file
from carelake.tools.profiling.report import format_report
from platform_assets.assembly import build_definitions
from tests.support.environment import DESYNPUF
from tests.support.runs import failure_message, materialize

BENEFICIARY_2008 = DESYNPUF / "DE1_0_2008_Beneficiary_Summary_File_Sample_0.csv"
INPATIENT = DESYNPUF / "DE1_0_2008_to_2010_Inpatient_Claims_Sample_0.csv"


def test_the_profile_finds_yyyymmdd_dates_the_identifier_and_the_birth_date():
    profile = profile_file(BENEFICIARY_2008)
    columns = {c.name: c for c in profile.columns}
    assert (profile.delimiter, profile.header, profile.rows) == (",", True, 2)
    birth = columns["BENE_BIRTH_DT"]
    assert (birth.type, birth.input_format, birth.phi.category.value) == ("date", "%Y%m%d", "birth_date")
    assert columns["DESYNPUF_ID"].phi.category.value == "member_id"
    assert columns["BENE_DEATH_DT"].null_rate == 1.0 and columns["BENE_DEATH_DT"].type == "date"
    assert columns["MEDREIMB_OP"].type == "integer" and (columns["MEDREIMB_OP"].min, columns["MEDREIMB_OP"].max) == ("1650", "3620")
    assert columns["BENE_ESRD_IND"].type == "string"  # 0 here, Y in 2010: a code, not a number
    report = format_report(profile)
    assert "member_id" in report and "birth_date" in report and "compliance risks" in report
    for phi in ("0002056B40CEE448", "0004D03F1BD5E607", "19201001", "1920-10-01", "1943-07-01"):
        assert phi not in report


def test_icd9_codes_stay_strings_and_claim_dates_are_ordered():
    profile = profile_file(INPATIENT)
    columns = {c.name: c for c in profile.columns}
    assert {columns[f"ICD9_DGNS_CD_{i}"].type for i in range(1, 11)} == {"string"}
    assert columns["CLM_FROM_DT"].phi.category.value == "date"  # a service date of an identifiable person


def test_phi_is_recognised_by_values_under_neutral_names(tmp_path):
    names = ["Mary Smith", "James Johnson", "Linda Brown", "Robert Jones", "Patricia Garcia"]
    path = tmp_path / "export.txt"
    path.write_text(
        "a|b|c|d|e|f|g|h\n"
        + "".join(
            f"x{i}@example.org|555-12-{1000 + i}|(212) 555-{1000 + i}|{i}|{names[i % 5]}|{100 + i} Main St|"
            f"A{i:03d}Q{i * 7:04d}|{1930 + 3 * i}{i % 12 + 1:02d}15\n"
            for i in range(20)
        )
    )
    profile = profile_file(path)
    assert profile.delimiter == "|" and profile.header
    found = {c.name: c.phi.category.value if c.phi else None for c in profile.columns}
    assert found == {"a": "email", "b": "ssn", "c": "phone", "d": None, "e": "name", "f": "address",
                     "g": "other", "h": "birth_date"}
    report = format_report(profile)
    assert "direct identifiers ['a', 'b', 'c', 'e', 'f']" in report
    assert "Main St" not in report and "Mary" not in report


def test_the_generated_yaml_validates_and_ingests_the_file(settings, instance, capsys):
    sources = str(settings.sources_dir)
    assert main(["profile", str(BENEFICIARY_2008), "--provider", "cms", "--table", "beneficiaries", "--sources", sources]) == 0
    out = capsys.readouterr().out
    assert "draft spec:" in out and "0002056B40CEE448" not in out
    draft = yaml.safe_load((settings.sources_dir / "cms" / "beneficiaries.yaml").read_text())
    columns = {c["name"]: c for c in draft["columns"]}
    assert columns["BENE_BIRTH_DT"]["phi"] == {"category": "birth_date", "masking": "age_90plus"}
    assert columns["DESYNPUF_ID"]["phi"]["category"] == "member_id"
    assert (draft["cadence"], draft["delivery"]["file_pattern"]) == ("yearly", "DE1_0_{date:%Y}_Beneficiary_Summary_File_Sample_0.csv")
    assert main(["validate", "--sources", sources]) == 0

    landing = settings.landing_root / "cms"
    landing.mkdir(parents=True)
    for year in (2008, 2010):  # 2010 writes BENE_ESRD_IND as Y instead of 0: still no quarantine
        shutil.copy(DESYNPUF / f"DE1_0_{year}_Beneficiary_Summary_File_Sample_0.csv", landing)
    assets = build_definitions(settings).resolve_assets_def(dg.AssetKey(["raw", "cms", "beneficiaries"]))
    for year in (2008, 2010):
        result = materialize(assets, instance, partition=f"{year}-01-01")
        assert result.success, failure_message(result)
        raw = next(m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "raw")
        metadata = raw.materialization.metadata
        assert (metadata["dagster/row_count"].value, metadata["rows_quarantined"].value) == (2, 0)


def test_a_claims_drop_becomes_an_adhoc_draft_that_ingests(settings, instance):
    sources = str(settings.sources_dir)
    assert main(["profile", str(INPATIENT), "--provider", "cms", "--sources", sources]) == 0
    table = "de1_0_2008_to_2010_inpatient_claims_sample_0"
    draft = yaml.safe_load((settings.sources_dir / "cms" / f"{table}.yaml").read_text())
    assert draft["cadence"] == "adhoc"
    assert {"rule": "date_order", "columns": ["CLM_FROM_DT", "CLM_THRU_DT"], "severity": "warn"} in draft["validations"]
    assert main(["profile", str(INPATIENT), "--provider", "cms", "--sources", sources]) == 1  # never overwrites

    (settings.landing_root / "cms").mkdir(parents=True)
    shutil.copy(INPATIENT, settings.landing_root / "cms")
    defs = build_definitions(settings)
    assets = defs.resolve_assets_def(dg.AssetKey(["raw", "cms", table]))
    instance.add_dynamic_partitions(f"cms__{table}__deliveries", [INPATIENT.name])
    result = materialize(assets, instance, partition=INPATIENT.name)
    assert result.success, failure_message(result)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"] and checks["date_order_CLM_FROM_DT_CLM_THRU_DT"]
