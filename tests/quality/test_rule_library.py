"""The healthcare rule library and the column rules, as pure polars expressions."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from carelake.quality.healthcare import LIBRARY
from carelake.quality.registry import build_rule
from carelake.spec import (
    AcceptedValues,
    DateOrder,
    Expression,
    Length,
    NotNull,
    Range,
    Regex,
)
from tests.support.environment import DESYNPUF


def valid(rule: str, values: list) -> list[bool | None]:
    return pl.DataFrame({"v": values}).select(LIBRARY[rule](pl.col("v"))).to_series().to_list()


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ("npi", ["1234567893", "1245319599"], ["1234567890", "426619309", "12345678931", "A234567893"]),
        ("icd10_cm", ["I10", "E11.9", "E1165", "S72.001A", "V00.01XA", "Z3A.01", "C7A010", "E88.89", "U07.1"],
         ["V065", "E8889", "36632", "250.00", "V06.5", "E888.9", "I1", "W19"]),
        ("cpt", ["99213", "0001F", "0042T", "0001U"], ["9921", "992134", "J3490", "0001X"]),
        ("hcpcs", ["99213", "J3490", "A0428"], ["W1234", "J349", "JJ490"]),
        ("ndc", ["0002-3227-30", "50090-347-00", "12345-6789-1", "12345-6789-01", "12345678901", "0002322730"],
         ["123-456-78", "12345-67890-1", "1234567", "ABCDE-1234-12"]),
        ("us_state", ["NY", "CA", "DC", "PR", "AE"], ["XX", "ny", "New York", "15"]),
        ("zip", ["10001", "10001-1234", "100011234"], ["1000", "10001-12", "ABCDE"]),
    ],
)
def test_each_library_rule_accepts_good_codes_and_rejects_bad_ones(rule, good, bad):
    assert valid(rule, good) == [True] * len(good)
    assert valid(rule, bad) == [False] * len(bad)


def test_no_date_in_the_future():
    today = dt.datetime.now(dt.UTC).date()
    assert valid("not_in_future", [today, today - dt.timedelta(days=400), today + dt.timedelta(days=1)]) == [True, True, False]


def test_only_two_desynpuf_npis_pass_the_check_digit():
    npis = set()
    for path in DESYNPUF.glob("*Claims*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        for column in (c for c in frame.columns if "NPI" in c):
            npis |= set(frame[column].drop_nulls().to_list())
    passing = [n for n, ok in zip(sorted(npis), valid("npi", sorted(npis)), strict=True) if ok]
    assert "426619309" in npis and len(npis) > 2  # the 9-digit one is among them, and fails
    assert passing == ["2484358033", "6513947302"]


def test_the_desynpuf_icd9_diagnoses_are_not_icd10_cm():
    frame = pl.read_csv(DESYNPUF / "DE1_0_2008_to_2010_Carrier_Claims_Sample_0A.csv", infer_schema=False)
    codes = sorted({v for c in frame.columns if c.startswith("ICD9_DGNS") for v in frame[c].drop_nulls()})
    assert {"V065", "E8889", "36632"} & set(codes) or len(codes) > 3
    assert not any(valid("icd10_cm", codes))


def failing(rule, frame: dict) -> list[bool]:
    return pl.DataFrame(frame).select(build_rule(rule, None).failing).to_series().to_list()


def test_column_rules_flag_exactly_the_failing_rows_and_let_nulls_pass():
    assert failing(NotNull(rule="not_null", column="a"), {"a": ["x", None]}) == [False, True]
    assert failing(AcceptedValues(rule="accepted_values", column="a", values=["M", "F"]), {"a": ["M", "X", None]}) == [
        False, True, False]
    assert failing(Regex(rule="regex", column="a", pattern=r"[A-Z]{2}\d"), {"a": ["AB1", "AB12", "xAB1", None]}) == [
        False, True, True, False]
    assert failing(Range(rule="range", column="a", min=0, max=10), {"a": [0.0, 10.0, -1.0, 11.0, None]}) == [
        False, False, True, True, False]
    dates = {"a": [dt.date(1999, 12, 31), dt.date(2000, 1, 1), None]}
    assert failing(Range(rule="range", column="a", min=dt.date(2000, 1, 1)), dates) == [True, False, False]
    assert failing(Length(rule="length", column="a", min=2, max=3), {"a": ["a", "ab", "abcd", None]}) == [
        True, False, True, False]


def test_an_sql_expression_must_hold_for_every_row():
    rule = Expression(rule="expression", sql="paid <= billed AND billed > 0")
    assert failing(rule, {"paid": [5.0, 20.0, None], "billed": [10.0, 10.0, 10.0]}) == [False, True, False]
    assert build_rule(rule, None).columns == ["paid", "billed"]


def test_dates_never_go_backwards_even_across_a_missing_date():
    rule = DateOrder(rule="date_order", columns=["birth", "service", "paid"])
    d = dt.date
    frame = {
        "birth": [d(1950, 1, 1), d(1950, 1, 1), d(2020, 1, 1), d(2020, 1, 1)],
        "service": [d(2020, 1, 1), d(2020, 1, 5), None, d(2019, 1, 1)],
        "paid": [d(2020, 2, 1), d(2020, 1, 4), d(2019, 1, 1), None],
    }
    assert failing(rule, frame) == [False, True, True, True]


def test_the_simulator_and_the_npi_rule_agree_on_check_digits():
    import random

    from carelake.tools.simulation import npi_check_digit

    rng = random.Random(5)
    npis = [(lambda d: d + npi_check_digit(d))(f"{rng.randrange(10**9):09d}") for _ in range(2000)]
    assert all(valid("npi", npis))
    wrong = [n[:9] + str((int(n[9]) + 1) % 10) for n in npis]
    assert not any(valid("npi", wrong))


def test_the_readme_example_of_every_rule_is_a_valid_spec():
    import yaml

    from carelake.settings import PROJECT_ROOT
    from carelake.spec import SourceSpec

    block = (PROJECT_ROOT / "README.md").read_text().split("## Quality rules")[1].split("```yaml")[1].split("```")[0]
    columns = [{"name": n} for n in ["MBR_ID", "CLM_ID", "LINE_NO", "GENDER", "PLAN_CD", "RENDERING_NPI", "DX1"]]
    columns += [{"name": n, "type": "decimal"} for n in ["BILLED_AMT", "PAID_AMT", "LINE_PAID", "CLAIM_PAID"]]
    columns += [{"name": n, "type": "date"} for n in ["SVC_DT", "DOB", "PAID_DT"]]
    spec = SourceSpec.model_validate({
        "provider": "acme_health", "table": "claims", "description": "x", "owners": ["team:x"], "cadence": "daily",
        "start_date": "2026-01-01", "delivery": {"channel": {"kind": "local", "path": "a"}, "file_pattern": "a_{date:%Y%m%d}.csv"},
        "columns": columns, **yaml.safe_load(block),
    })
    assert {v.rule for v in spec.validations} >= {"npi", "icd10_cm", "expression", "eligible", "after_birth", "sum_equals"}
