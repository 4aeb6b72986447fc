"""Fixed-width files: layouts by start + length or by widths, implied decimals, signs, record types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

COLUMNS = """
columns:
  - {name: MEMBER, nullable: false, phi: member_id}
  - {name: SVC_DT, type: date, input_format: "%Y%m%d"}
  - {name: AMOUNT, type: decimal, precision: 11, scale: 2}
"""


def by_widths(amount: str):  # noqa: ANN201 - a SourceSpec
    """A layout by widths in order: MEMBER (6), SVC_DT (8), then AMOUNT as `amount` declares it."""
    return spec_of(f"""
        format:
          kind: fixed_width
          fields:
            - {{name: MEMBER, length: 6}}
            - {{name: SVC_DT, length: 8}}
            - {{name: AMOUNT, {amount}}}
    """, COLUMNS)


def test_fields_by_start_and_length_with_an_implied_decimal_picture(tmp_path):
    spec = spec_of("""
        format:
          kind: fixed_width
          fields:
            - {name: MEMBER, start: 1, length: 6}
            - {name: SVC_DT, start: 7, length: 8}
            - {name: AMOUNT, start: 15, length: 9, picture: "9(7)V99"}
    """, COLUMNS)
    content = "M00001202503020000123450FILLER\r\nM00002202503020010500000\n"
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.dat", content)
    assert raw.select("MEMBER", "SVC_DT").rows() == [("M00001", dt.date(2025, 3, 2)), ("M00002", dt.date(2025, 3, 2))]
    assert raw["AMOUNT"].to_list() == [Decimal("123.45"), Decimal("10500.00")]
    assert quarantine.height == 0


def test_fields_by_widths_in_order_and_trailing_signs(tmp_path):
    spec = by_widths('length: 6, picture: "S9(3)V99"')
    raw, _, _ = ingest_file(tmp_path, spec, "feed_20250302.dat", "M000012025030201234-\nM0000220250302 0500+\n")
    assert raw["AMOUNT"].to_list() == [Decimal("-12.34"), Decimal("5.00")]


def test_leading_signs(tmp_path):
    spec = by_widths('length: 6, implied_decimals: 2, sign: leading')
    raw, _, _ = ingest_file(tmp_path, spec, "feed_20250302.dat", "M0000120250302-01234\n")
    assert raw["AMOUNT"].to_list() == [Decimal("-12.34")]


def test_header_and_trailer_records_are_skipped_and_unknown_types_quarantined(tmp_path):
    spec = spec_of("""
        format:
          kind: fixed_width
          record_types: {start: 1, length: 1, detail: [D], skip: [H, T]}
          fields:
            - {name: MEMBER, start: 2, length: 6}
            - {name: SVC_DT, start: 8, length: 8}
            - {name: AMOUNT, start: 16, length: 5, implied_decimals: 2}
    """, COLUMNS)
    content = "HACME 20250302\nDM000012025030200100\nXM000022025030200200\nDM0000320250302\nT000002\n"
    raw, quarantine, tally = ingest_file(tmp_path, spec, "feed_20250302.dat", content)
    assert raw.select("_line", "MEMBER").rows() == [(2, "M00001")]
    assert quarantine.select("_line", "column", "rule").rows() == [(3, "_record", "format"), (4, "_record", "format")]
    assert "record type is not one of ['D']" in quarantine["reason"][0]
    assert quarantine["value"].to_list() == ["XM000022025030200200", "DM0000320250302"]
    assert "the layout needs 20" in quarantine["reason"][1]
    assert tally.rows_in == 3


def test_non_numeric_text_in_an_implied_decimal_field_is_quarantined_with_its_raw_value(tmp_path):
    spec = by_widths('length: 5, picture: "999V99"')
    _, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.dat", "M0000120250302 12AB\n")
    assert quarantine.select("column", "rule", "value").rows() == [("AMOUNT", "type", "12AB")]


def test_a_layout_must_position_every_declared_column():
    with pytest.raises(ValueError, match=r"no position for declared columns \['AMOUNT'\]"):
        spec_of("""
            format: {kind: fixed_width, fields: [{name: MEMBER, length: 6}, {name: SVC_DT, length: 8}]}
        """, COLUMNS)


def test_a_bad_picture_is_a_spec_error():
    with pytest.raises(ValueError, match="not a numeric COBOL picture"):
        by_widths('length: 5, picture: "X(5)"')


def test_a_typo_in_a_layout_is_reported_with_the_file_the_field_and_the_allowed_keys(settings):
    from carelake.spec.loading import SpecError, load_spec
    from tests.support.specs import feed_yaml, write_spec

    path = write_spec(settings, "testco", "feed", feed_yaml("f_{date:%Y%m%d}.dat", start="2025-03-01", folder="t", description="x"), """
        format: {kind: fixed_width, fields: [{name: A, lenght: 3}]}
        columns: [{name: A}]
    """)
    with pytest.raises(SpecError, match=r"feed.yaml: format.fixed_width.fields\[0\].lenght: unknown key; allowed keys: .*length"):
        load_spec(path)
