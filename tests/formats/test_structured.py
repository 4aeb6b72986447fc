"""XML, JSON / NDJSON, Parquet and SAS deliveries read into the same declared columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pyreadstat
import pytest

from carelake.errors import DeliveryError
from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

COLUMNS = """
columns:
  - {name: ID, nullable: false}
  - {name: MEMBER, phi: member_id}
  - {name: SVC_DT, type: date}
  - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
"""

XML = """<?xml version="1.0" encoding="UTF-8"?>
<claims>
  <claim ID="1"><member>M1</member><service date="2025-03-02"/><AMOUNT>10.50</AMOUNT></claim>
  <!-- a comment between records -->
  <claim ID="2"><member>M2</member><service date="2025-03-02"/><AMOUNT>ten</AMOUNT></claim>
</claims>
"""


def xml_spec():
    return spec_of("""
        format:
          kind: xml
          record_element: claim
          paths: {ID: "@ID", MEMBER: member, SVC_DT: "service/@date"}
    """, COLUMNS)


def test_xml_records_map_attributes_and_children_to_columns(tmp_path):
    raw, quarantine, _ = ingest_file(tmp_path, xml_spec(), "feed_20250302.xml", XML)
    assert raw.select("_line", "ID", "MEMBER", "SVC_DT", "AMOUNT").rows() == [
        (3, "1", "M1", dt.date(2025, 3, 2), Decimal("10.50"))
    ]
    assert quarantine.select("_line", "column", "value").rows() == [(5, "AMOUNT", "ten")]


def test_xml_elements_and_attributes_no_column_maps_are_reported_as_drift(tmp_path):
    content = XML.replace("<AMOUNT>10.50</AMOUNT>", '<AMOUNT>10.50</AMOUNT><PLAN code="X"/>').replace('ID="2"', 'ID="2" status="new"')
    _, _, tally = ingest_file(tmp_path, xml_spec(), "feed_20250302.xml", content)
    assert tally.drift == {"feed_20250302.xml": {"new": ["@status", "PLAN"]}}


def test_xml_with_entity_declarations_is_refused_before_parsing(tmp_path):
    laughs = '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<claims><claim ID="&lol2;"/></claims>\n'
    with pytest.raises(DeliveryError, match=r"feed_20250302.xml, line 2: the XML declares a DTD"):
        ingest_file(tmp_path, xml_spec(), "feed_20250302.xml", laughs)


def test_malformed_xml_fails_with_its_line(tmp_path):
    with pytest.raises(DeliveryError, match=r"line 3: the XML is malformed"):
        ingest_file(tmp_path, xml_spec(), "feed_20250302.xml", '<claims>\n<claim ID="1"></claim>\n<claim ID="2"></clam>\n</claims>\n')


def test_json_document_with_a_record_path(tmp_path):
    spec = spec_of("""
        format: {kind: json, record_path: data.claims, paths: {MEMBER: member.id}}
    """, COLUMNS)
    content = '{"data": {"claims": [{"ID": 1, "member": {"id": "M1"}, "SVC_DT": "2025-03-02", "AMOUNT": 10.5}, {"ID": 2, "AMOUNT": "x"}]}}'
    raw, quarantine, tally = ingest_file(tmp_path, spec, "feed_20250302.json", content)
    assert raw.select("ID", "MEMBER", "SVC_DT", "AMOUNT").rows() == [("1", "M1", dt.date(2025, 3, 2), Decimal("10.50"))]
    assert quarantine.select("_line", "column", "value").rows() == [(2, "AMOUNT", "x")]
    assert tally.drift == {}


def test_json_record_path_that_is_not_a_list_fails_with_the_fix(tmp_path):
    spec = spec_of("format: {kind: json, record_path: data.rows}\n", COLUMNS)
    with pytest.raises(DeliveryError, match="record_path 'data.rows' does not lead to a list"):
        ingest_file(tmp_path, spec, "feed_20250302.json", '{"data": {"claims": []}}')


def test_ndjson_lines_that_are_not_objects_go_to_quarantine_with_their_text(tmp_path):
    spec = spec_of("format: {kind: ndjson}\n", COLUMNS)
    content = '{"ID": "1", "MEMBER": "M1", "SVC_DT": "2025-03-02", "AMOUNT": "1.00"}\n{"ID": "2", oops\n\n[1, 2]\n'
    raw, quarantine, tally = ingest_file(tmp_path, spec, "feed_20250302.ndjson", content + '{"ID": "3", "NEW_KEY": 1}\n')
    assert raw["ID"].to_list() == ["1", "3"]
    assert tally.drift == {"feed_20250302.ndjson": {"new": ["NEW_KEY"]}}
    assert quarantine.select("_line", "column", "rule", "value").rows() == [
        (2, "_record", "format", '{"ID": "2", oops'),
        (4, "_record", "format", "[1, 2]"),
    ]
    assert tally.sample[0]["value"] == '{"XX": "9", XXXX'  # a whole record: its shape only


def test_parquet_schema_is_checked_and_retyped_columns_reported(tmp_path):
    frame = pl.DataFrame({"ID": [1, 2], "MEMBER": ["M1", "M2"], "SVC_DT": [dt.date(2025, 3, 2), None], "AMOUNT": [True, False]})
    path = tmp_path / "f.parquet"
    frame.write_parquet(path)
    spec = spec_of("format: {kind: parquet}\n", COLUMNS)
    raw, quarantine, tally = ingest_file(tmp_path, spec, "feed_20250302.parquet", path.read_bytes())
    assert tally.drift == {"feed_20250302.parquet": {"retyped": {"AMOUNT": "decimal <- Boolean"}}}
    assert raw.height == 0 and quarantine["value"].to_list() == ["true", "false"]
    strict = spec_of("format: {kind: parquet, drift: {retyped_columns: fail}}\n", COLUMNS)
    with pytest.raises(DeliveryError, match=r"columns changed type \{'AMOUNT': 'decimal <- Boolean'\}"):
        ingest_file(tmp_path, strict, "feed_20250302.parquet", path.read_bytes())


def test_parquet_missing_a_declared_column_fails(tmp_path):
    path = tmp_path / "f.parquet"
    pl.DataFrame({"ID": ["1"], "MEMBER": ["M1"], "SVC_DT": ["2025-03-02"]}).write_parquet(path)
    with pytest.raises(DeliveryError, match=r"the file lacks declared columns \['AMOUNT'\]"):
        ingest_file(tmp_path, spec_of("format: {kind: parquet}\n", COLUMNS), "feed_20250302.parquet", path.read_bytes())


@pytest.mark.parametrize("version", [5, 8])
def test_sas_transport_files_with_dates_and_numbers(tmp_path, version):
    frame = pl.DataFrame({"ID": ["1", "2"], "MEMBER": ["M1", "M2"], "SVC_DT": [dt.date(2025, 3, 2), dt.date(2025, 3, 3)], "AMOUNT": [10.5, 3.0]})
    path = tmp_path / "f.xpt"
    pyreadstat.write_xport(frame, str(path), file_format_version=version, variable_format={"SVC_DT": "DATE9."})
    raw, quarantine, _ = ingest_file(tmp_path, spec_of("format: {kind: sas}\n", COLUMNS), "feed_20250302.xpt", path.read_bytes())
    assert quarantine.height == 0, quarantine.to_dicts()
    assert raw.select("ID", "SVC_DT", "AMOUNT").rows() == [
        ("1", dt.date(2025, 3, 2), Decimal("10.50")), ("2", dt.date(2025, 3, 3), Decimal("3.00"))
    ]


def test_a_corrupt_sas_file_fails_with_the_fix(tmp_path):
    with pytest.raises(DeliveryError, match="not a readable SAS sas7bdat file"):
        ingest_file(tmp_path, spec_of("format: {kind: sas}\n", COLUMNS), "feed_20250302.sas7bdat", b"not sas at all" * 100)


def test_an_ndjson_line_longer_than_the_limit_fails_before_it_is_read(tmp_path):
    spec = spec_of("format: {kind: ndjson, packaging: {max_line_bytes: 100}}\n", COLUMNS)
    content = '{"ID": "1"}\n{"ID": "' + "x" * 500 + '"}\n'
    with pytest.raises(DeliveryError, match=r"line 2: a line is longer than 100 bytes"):
        ingest_file(tmp_path, spec, "feed_20250302.ndjson", content)
