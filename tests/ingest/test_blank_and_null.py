"""Blank vs null (issue 15, Types): each column may say what reads as null (`null_values`, in every
format, compared after trimming) and what a blank means (`blank_value`, e.g. a one-character flag left
blank in a fixed-width file that means "N"). Columns that say nothing keep the format's null_values."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of


def test_csv_columns_declare_their_own_null_values_and_the_others_keep_the_formats(tmp_path):
    spec = spec_of('format: {kind: csv, null_values: ["", "NA"]}\n', """
        columns:
          - {name: ID}
          - {name: NOTE, null_values: ["NULL", "N/A"]}
          - {name: CODE}
          - {name: QTY, type: integer, null_values: ["-", ""]}
        """)
    content = 'ID,NOTE,CODE,QTY\n1,NULL,NA,-\n2,,,\n3," N/A ",x, 7 \n4,NA,"",\n'
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.csv", content)
    assert quarantine.height == 0
    assert raw.select("NOTE", "CODE", "QTY").rows() == [
        (None, None, None),
        ("", None, None),  # NOTE does not list '': an empty note is an empty note
        (None, "x", 7),    # compared after trimming
        ("NA", None, None),  # 'NA' is the format's null, not NOTE's
    ]


def test_a_typed_column_without_blank_as_null_quarantines_a_blank(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: QTY, type: integer, null_values: ['NULL']}\n")
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.csv", "ID,QTY\n1,NULL\n2,\n3,4\n")
    assert raw["QTY"].to_list() == [None, 4]
    assert quarantine.select("_line", "column", "rule").rows() == [(3, "QTY", "type")]


def test_a_null_value_in_a_required_column_is_missing(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: CODE, nullable: false, null_values: ['?']}\n")
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.csv", "ID,CODE\n1,?\n2,\n3,A\n")
    assert raw["CODE"].to_list() == ["", "A"]
    assert quarantine.select("column", "rule").rows() == [("CODE", "not_null")]


def test_a_blank_fixed_width_flag_means_its_declared_value(tmp_path):
    spec = spec_of("""
        format:
          kind: fixed_width
          fields: [{name: ID, length: 3}, {name: ESRD, length: 1}, {name: NOTE, length: 4}, {name: AMT, length: 5, implied_decimals: 2}]
        columns:
          - {name: ID}
          - {name: ESRD, type: boolean, nullable: false, blank_value: "N"}
          - {name: NOTE}
          - {name: AMT, type: decimal, blank_value: "0"}
        """)
    content = "001Y abc00150\n002     00200\n003Nxyz      \n"
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.txt", content)
    assert quarantine.height == 0
    assert raw.select("ESRD", "NOTE", "AMT").rows() == [
        (True, "abc", 1.5), (False, None, 2), (False, "xyz", 0),
    ]


def test_per_column_null_values_in_json_and_xml(tmp_path):
    spec = spec_of("format: {kind: ndjson}\n", "columns:\n  - {name: ID}\n  - {name: DX, null_values: ['UNK', '']}\n  - {name: TAG, null_values: []}\n")
    lines = [{"ID": "1", "DX": "UNK", "TAG": ""}, {"ID": "2", "DX": "I10", "TAG": "a"}, {"ID": "3", "DX": "", "TAG": None}]
    raw, _, _ = ingest_file(tmp_path / "json", spec, "feed_20250302.ndjson", "".join(json.dumps(r) + "\n" for r in lines))
    assert raw.select("DX", "TAG").rows() == [(None, ""), ("I10", "a"), (None, None)]

    spec = spec_of("format: {kind: xml, record_element: r}\n", "columns:\n  - {name: ID}\n  - {name: DX, null_values: ['UNK']}\n")
    xml = "<rs><r><ID>1</ID><DX> UNK </DX></r><r><ID>2</ID><DX>I10</DX></r></rs>"
    raw, _, _ = ingest_file(tmp_path / "xml", spec, "feed_20250302.xml", xml)
    assert raw["DX"].to_list() == [None, "I10"]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("{name: F, blank_value: N, null_values: ['', 'X']}", "blank_value says what a blank means, but null_values lists ''"),
        ("{name: F, blank_value: ' '}", "blank_value must not itself be blank"),
        ("{name: F, null_values: [' NA']}", "null_values: values are compared after trimming"),
        ("{name: F, null_values: [NA, NA]}", "null_values: a value is listed twice"),
        ("{name: F, null_values: [NULL]}", "YAML reads an unquoted NULL / null / ~ as no value; quote it"),
    ],
)
def test_null_and_blank_options_are_checked_when_the_spec_loads(column, message):
    with pytest.raises(ValidationError, match=message):
        spec_of(f"columns:\n  - {column}\n")
