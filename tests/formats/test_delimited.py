"""Delimited text: delimiters, quoting and escapes, headers, encodings, line endings, trailers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from carelake.errors import DeliveryError
from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

COLUMNS = """
columns:
  - {name: ID, nullable: false}
  - {name: NAME, phi: name}
  - {name: BORN, type: date, input_format: "%Y%m%d"}
  - {name: PAID, type: decimal, precision: 9, scale: 2}
"""


def csv_spec(fmt: str):
    return spec_of(f"format: {fmt}\n" + COLUMNS)


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("{kind: csv, delimiter: \"\\t\"}", "ID\tNAME\tBORN\tPAID\n1\tAnn\t19800101\t1.50\n"),
        ("{kind: csv, delimiter: \"|\"}", "ID|NAME|BORN|PAID\n1|Ann|19800101|1.50\n"),
        ("{kind: csv, header: false}", "1,Ann,19800101,1.50\n"),
        ("{kind: csv, encoding: utf-8-sig}", "\ufeffID,NAME,BORN,PAID\n1,Ann,19800101,1.50\n"),
        ("{kind: csv}", "ID,NAME,BORN,PAID\r\n1,Ann,19800101,1.50\r\n"),
        ("{kind: csv, trailing_delimiter: true}", "ID,NAME,BORN,PAID,\n1,Ann,19800101,1.50,\n"),
        ("{kind: csv, header: false, trailing_delimiter: true, delimiter: \"|\"}", "1|Ann|19800101|1.50|\n"),
        ("{kind: csv, comment_prefix: \"#\"}", "# exported 2025-03-02\nID,NAME,BORN,PAID\n1,Ann,19800101,1.50\n"),
        ("{kind: csv, trailer_prefix: TRL}", "ID,NAME,BORN,PAID\n1,Ann,19800101,1.50\nTRL,1\n"),
        ("{kind: csv, quote_char: \"'\"}", "ID,NAME,BORN,PAID\n1,'Ann',19800101,1.50\n"),
        ("{kind: csv, quote_char: null}", "ID,NAME,BORN,PAID\n1,Ann,19800101,1.50\n"),
    ],
    ids=["tsv", "pipe", "no_header", "utf8_bom", "crlf", "trailing_delimiter", "no_header_trailing", "comment", "trailer", "single_quote", "no_quote"],
)
def test_delimited_options_read_the_same_row(tmp_path, fmt, content):
    raw, quarantine, tally = ingest_file(tmp_path, csv_spec(fmt), "feed_20250302.txt", content)
    assert quarantine.height == 0, quarantine.to_dicts()
    assert raw.select("ID", "NAME", "BORN").rows() == [("1", "Ann", dt.date(1980, 1, 1))]
    assert str(raw["PAID"][0]) == "1.50" and tally.rows_in == 1


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_legacy_encodings_are_transcoded_to_utf8(tmp_path, encoding):
    text = "ID,NAME,BORN,PAID\n1,Zoë Müller,19800101,1.50\n2,“Smart” O’Neil,19800101,2.00\n"
    if encoding == "latin-1":
        text = text.replace("“Smart” O’Neil", "Señor")
    raw, _, _ = ingest_file(tmp_path, csv_spec(f"{{kind: csv, encoding: {encoding}}}"), "feed_20250302.csv", text.encode(encoding))
    assert raw["NAME"].to_list()[0] == "Zoë Müller"
    assert raw["NAME"].to_list()[1] == ("Señor" if encoding == "latin-1" else "“Smart” O’Neil")


def test_backslash_escaped_quotes_are_read_as_quotes(tmp_path):
    content = 'ID,NAME,BORN,PAID\n1,"Ann \\"Nan\\" Lee",19800101,1.50\n2,"back\\\\slash",19800101,1.00\n'
    raw, _, _ = ingest_file(tmp_path, csv_spec('{kind: csv, escape_char: "\\\\"}'), "feed_20250302.csv", content)
    assert raw["NAME"].to_list() == ['Ann "Nan" Lee', "back\\slash"]


def test_quoted_fields_keep_delimiters_and_doubled_quotes(tmp_path):
    content = 'ID,NAME,BORN,PAID\n1,"Lee, ""Ann""",19800101,1.50\n'
    raw, _, _ = ingest_file(tmp_path, csv_spec("{kind: csv}"), "feed_20250302.csv", content)
    assert raw["NAME"].to_list() == ['Lee, "Ann"']


def test_strings_are_trimmed_unless_the_column_says_not_to(tmp_path):
    spec = spec_of("""
        format: {kind: csv}
        columns:
          - {name: ID}
          - {name: CODE, trim: false}
    """)
    raw, _, _ = ingest_file(tmp_path, spec, "feed_20250302.csv", "ID,CODE\n  1  ,  A1 \n")
    assert raw.select("ID", "CODE").rows() == [("1", "  A1 ")]


def test_padded_and_blank_typed_values_are_typed_after_trimming(tmp_path):
    """Typed values are first parsed as delivered; padded or blank ones are retried trimmed, not rejected."""
    spec = spec_of("""
        format: {kind: csv}
        columns:
          - {name: ID, nullable: false}
          - {name: BORN, type: date, input_format: "%Y%m%d"}
          - {name: UNITS, type: integer, nullable: false}
          - {name: PAID, type: decimal, precision: 9, scale: 2}
          - {name: FLAG, type: boolean}
    """)
    content = (
        "ID,BORN,UNITS,PAID,FLAG\n"
        "1, 19800101 ,\t7 , 1.50,Y \n"
        '2,"  ",3,"",\u00a0N\n'
        "3,19800101,  ,1.50,Y\n"
        "4,19800101,1,1.5 0,Y\n"
    )
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.csv", content)
    assert raw.select("ID", "BORN", "UNITS", "PAID", "FLAG").rows() == [
        ("1", dt.date(1980, 1, 1), 7, Decimal("1.50"), True),
        ("2", None, 3, None, False),
    ]
    assert quarantine.select("_line", "column", "rule").rows() == [(4, "UNITS", "not_null"), (5, "PAID", "type")]


def test_invalid_utf8_fails_naming_the_line_and_the_fix(tmp_path):
    content = b"ID,NAME,BORN,PAID\n1,Ann,19800101,1.50\n2,B\xffb,19800101,1.50\n"
    with pytest.raises(DeliveryError, match=r"feed_20250302.csv, line 3: .*Fix: fix the file's encoding"):
        ingest_file(tmp_path, csv_spec("{kind: csv}"), "feed_20250302.csv", content)


def test_dates_are_written_as_iso_dates_and_bad_ones_quarantined_with_the_raw_value(tmp_path):
    content = "ID,NAME,BORN,PAID\n1,Ann,19800101,1.50\n2,Bob,1980-13-01,1.50\n"
    raw, quarantine, tally = ingest_file(tmp_path, csv_spec("{kind: csv}"), "feed_20250302.csv", content)
    assert raw["BORN"].cast(str).to_list() == ["1980-01-01"]
    assert quarantine.select("_line", "column", "rule", "value").rows() == [(3, "BORN", "type", "1980-13-01")]
    assert tally.sample == [{"file": "feed_20250302.csv", "line": 3, "column": "BORN", "rule": "type", "value": "1980-13-01"}]


def test_the_metadata_sample_of_quarantine_masks_phi_values(tmp_path):
    spec = spec_of("""
        format: {kind: csv}
        columns:
          - {name: ID}
          - {name: DOB, type: date, phi: birth_date}
    """)
    _, quarantine, tally = ingest_file(tmp_path, spec, "feed_20250302.csv", "ID,DOB\n1,1980-02-31\n")
    assert quarantine["value"].to_list() == ["1980-02-31"]
    assert tally.sample[0]["value"] == "9999-99-99" and "1980" not in str(tally.sample)  # its shape only


def test_a_new_column_is_reported_as_drift_and_a_missing_one_filled_when_the_policy_allows(tmp_path):
    spec = csv_spec("{kind: csv, drift: {missing_columns: 'null', new_columns: report}}")
    raw, _, tally = ingest_file(tmp_path, spec, "feed_20250302.csv", "ID,NAME,BORN,Paid_Amt,EXTRA\n1,Ann,19800101,1.5,x\n")
    assert raw["PAID"].to_list() == [None]
    assert tally.drift == {"feed_20250302.csv": {"new": ["Paid_Amt", "EXTRA"], "missing": ["PAID"]}}


def test_a_renamed_column_is_reported_and_fails_under_the_default_policy(tmp_path):
    with pytest.raises(DeliveryError, match=r"line 1: the header lacks declared columns \['PAID'\] \(renamed\? \{'PAID': 'paid'\}\)"):
        ingest_file(tmp_path, csv_spec("{kind: csv}"), "feed_20250302.csv", "ID,NAME,BORN,paid\n1,Ann,19800101,1.5\n")


def test_new_columns_fail_the_partition_when_the_spec_says_so(tmp_path):
    with pytest.raises(DeliveryError, match=r"undeclared columns \['EXTRA'\] appeared"):
        ingest_file(tmp_path, csv_spec("{kind: csv, drift: {new_columns: fail}}"), "feed_20250302.csv", "ID,NAME,BORN,PAID,EXTRA\n1,A,19800101,1,x\n")
