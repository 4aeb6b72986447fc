"""Decimal rounding (issue 15, Types): by default a decimal with more fraction digits than its scale is
quarantined; `rounding: half_even` rounds it half to even instead, exactly as Python's decimal module
does (the oracle), and a value whose rounding outgrows the precision is still quarantined."""

from __future__ import annotations

import tempfile
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

NAME = "feed_20250302.csv"


def amount_spec(extra: str = "", precision: int = 18, scale: int = 2):
    return spec_of("format: {kind: csv}\n", f"columns:\n  - {{name: ID}}\n  - {{name: AMT, type: decimal, precision: {precision}, scale: {scale}{extra}}}\n")


def read(tmp_path, spec, values: list[str]):
    return ingest_file(tmp_path, spec, NAME, "ID,AMT\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values, start=1)))


def test_extra_fraction_digits_are_rejected_by_default(tmp_path):
    raw, quarantine, _ = read(tmp_path, amount_spec(), ["868661.5575000001", "868661.55"])
    assert raw["AMT"].to_list() == [Decimal("868661.55")]
    assert quarantine.select("column", "rule", "value").rows() == [("AMT", "type", "868661.5575000001")]
    assert quarantine["reason"][0] == "AMT: expected a decimal with at most 16 integer and 2 fraction digits"


def test_half_even_rounds_ties_to_the_even_digit(tmp_path):
    values = ["868661.5575000001", "1.005", "1.015", "1.025", "-1.025", "0.125", "2.675", "1.0050000001", "5", "5.", "-0.001"]
    raw, quarantine, _ = read(tmp_path, amount_spec(", rounding: half_even"), values)
    assert quarantine.height == 0
    assert raw["AMT"].to_list() == [Decimal(v) for v in
                                    ["868661.56", "1.00", "1.02", "1.02", "-1.02", "0.12", "2.68", "1.01", "5.00", "5.00", "0.00"]]


def test_rounding_that_outgrows_the_precision_is_quarantined(tmp_path):
    raw, quarantine, _ = read(tmp_path, amount_spec(", rounding: half_even", precision=4), ["99.995", "99.994", "1.2e3", ".5", "1.5.0"])
    assert raw["AMT"].to_list() == [Decimal("99.99")]
    assert quarantine.select("rule").to_series().to_list() == ["type"] * 4
    assert quarantine["reason"][0] == "AMT: expected a decimal with at most 2 integer digits (after rounding half to even to 2 fraction digits)"


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("{name: N, type: integer, rounding: half_even}", "rounding is only allowed for decimal columns"),
        ("{name: N, type: decimal, precision: 38, scale: 2, rounding: half_even}", "rounding: half_even needs precision <= 36"),
        ("{name: N, type: decimal, rounding: up}", "rounding"),
    ],
)
def test_rounding_options_are_checked_when_the_spec_loads(column, message):
    with pytest.raises(ValidationError, match=message):
        spec_of(f"columns:\n  - {column}\n")


fractions = st.decimals(min_value=-10**6, max_value=10**6, places=6, allow_nan=False, allow_infinity=False)
digits = st.from_regex(r"[+-]?[0-9]{1,7}\.[0-9]{0,25}", fullmatch=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fractions.map(lambda d: format(d, "f")) | digits, min_size=1, max_size=60), st.integers(0, 4))
def test_half_even_matches_pythons_decimal(values, scale):
    spec = amount_spec(", rounding: half_even", precision=7 + scale, scale=scale)
    with tempfile.TemporaryDirectory() as tmp:
        raw, quarantine, _ = read(Path(tmp), spec, values)
    expected = {}
    for line, text in enumerate(values, start=2):
        rounded = Decimal(text).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN)
        expected[line] = rounded if len(str(abs(rounded)).split(".")[0]) <= 7 else None
    assert dict(zip(raw["_line"], raw["AMT"], strict=True)) == {k: v for k, v in expected.items() if v is not None}
    assert sorted(quarantine["_line"]) == sorted(k for k, v in expected.items() if v is None)
