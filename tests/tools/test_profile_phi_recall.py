"""PHI recall and precision of the profiler on real column names and value shapes: names and values
together, a confidence per column, and no annotation whose masking could not apply to the column."""

from __future__ import annotations

import polars as pl
import pytest

from carelake.tools.profiling.phi_detection import detect_phi
from carelake.tools.profiling.profiler import profile_file
from tests.support.environment import DESYNPUF

FIRST_NAMES = ["Jacinto", "Mary", "Robert", "Linda", "Oscar", "Keisha", "Wen", "Priya", "Tomas", "Ada", "Kim", "Leroy"]


def _series(values: list[str], times: int = 1) -> pl.Series:
    return pl.Series([*values] * times, dtype=pl.String)


@pytest.mark.parametrize("name, values, kind, expected", [
    ("FIRST", [f"{n}{i}" for i, n in enumerate(FIRST_NAMES)], "string", "name"),
    ("PATIENT_FIRST_NAME", FIRST_NAMES, "string", "name"),
    ("MAIDEN", [f"{n}son" for n in FIRST_NAMES], "string", "name"),
    ("BIRTHPLACE", ["Boston  Massachusetts  US", "Quincy  Massachusetts  US"], "string", "address"),
    ("BENE_COUNTY_CD", ["200", "310", "020"], "string", "address"),
    ("COUNTY", ["Suffolk County", "Norfolk County"], "string", "address"),
    ("LAT", ["42.3601", "41.8781", "40.7128"], "float", "address"),
    ("lon", ["-71.05890000", "-87.62980000", "-74.00600000"], "float", "address"),
    ("SSN", ["999123456", "999654321", "999001122"], "string", "ssn"),
    ("MEMBER_ID", ["A1234567", "B7654321", "C1112223"], "string", "member_id"),
    ("PATIENT", ["3b9e5c1a-1f0e-4c55-9f61-0d2b7a4e8c11", "7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"], "string", "member_id"),
    ("DISCHARGE_DT", ["2020-01-02", "2020-03-04"], "date", "date"),
    # precision: these look like PHI to a name or to a list of surnames, and are not
    ("RACE", ["White", "Black", "Asian", "White", "Black", "White"], "string", None),
    ("column_7", ["white", "black", "asian", "hispanic", "white", "black"], "string", None),
    ("MEMBER_MONTHS", ["12", "3", "0", "12", "7"], "integer", None),
    ("BENE_HI_CVRAGE_TOT_MONS", ["12", "12", "6"], "integer", None),
    ("BENE_SEX_IDENT_CD", ["1", "2", "1"], "string", None),
    ("PROVIDER_NAME", ["Mary Smith", "Robert Jones", "Linda Brown"], "string", None),
    ("DRUG_NAME", ["Lisinopril", "Metformin"], "string", None),
    ("PTNT_DSCHRG_STUS_CD", ["01", "02", "30"], "string", None),
    ("DISCHARGE_STATUS", ["home", "snf", "expired"], "string", None),
    ("LONG_DESCRIPTION", ["Diabetes mellitus without complication", "Essential hypertension"], "string", None),
    ("ORGANIZATION", ["3b9e5c1a-1f0e-4c55-9f61-0d2b7a4e8c11", "7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"], "string", None),
    ("HEALTHCARE_EXPENSES", ["1234.50", "99.10"], "decimal", None),
])
def test_phi_by_name_and_value_shape(name, values, kind, expected):
    verdict = detect_phi(name, _series(values, times=5 if expected is None else 1), kind)
    assert (verdict.finding.category.value if verdict.finding else None) == expected
    assert 0.5 <= verdict.confidence <= 1


def test_a_name_confirmed_by_its_values_is_surer_than_a_name_alone_or_values_alone():
    names = _series([f"{n} {s}" for n, s in zip(FIRST_NAMES, reversed(FIRST_NAMES), strict=True)])
    confirmed = detect_phi("PATIENT_NAME", names, "string").confidence
    name_only = detect_phi("PATIENT_NAME", _series(["Q7", "Z3", "K9"]), "string").confidence
    values_only = detect_phi("c3", names, "string").confidence
    assert confirmed > name_only and confirmed > values_only


def test_a_date_name_on_a_column_that_holds_no_dates_is_not_annotated_as_a_date():
    # DISCHARGE_STATUS as a date category would get year_only, which cannot read codes: every row lost in transformed.
    verdict = detect_phi("DISCHARGE_STATUS", _series(["01", "02", "30"]), "string")
    assert verdict.finding is None and "not dates" in verdict.doubt


def test_de_synpuf_beneficiaries_flag_the_id_dates_and_county_but_no_count_or_code():
    profile = profile_file(DESYNPUF / "DE1_0_2010_Beneficiary_Summary_File_Sample_0.csv")
    flagged = {c.name: c.phi.category.value for c in profile.columns if c.phi}
    assert flagged == {"DESYNPUF_ID": "member_id", "BENE_BIRTH_DT": "birth_date", "BENE_DEATH_DT": "date",
                       "BENE_COUNTY_CD": "address"}


def test_de_synpuf_claims_flag_the_id_and_every_date_but_no_provider_number_or_amount():
    profile = profile_file(DESYNPUF / "DE1_0_2008_to_2010_Inpatient_Claims_Sample_0.csv")
    flagged = {c.name: c.phi.category.value for c in profile.columns if c.phi}
    assert flagged == {"DESYNPUF_ID": "member_id", "CLM_FROM_DT": "date", "CLM_THRU_DT": "date", "CLM_ADMSN_DT": "date",
                       "NCH_BENE_DSCHRG_DT": "date"}
