"""The malformed corpus (tests/ingest/malformed/files, made by generate.py): each file gets its expected clear
error naming the file and a fix, or its expected quarantine rows; the landed file is never changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from carelake.errors import DeliveryError
from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

CORPUS = Path(__file__).parent / "malformed"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())

COLUMNS = """
columns:
  - {name: ID, nullable: false, phi: member_id}
  - {name: DAY, type: date, input_format: "%Y%m%d"}
  - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
"""
PACKAGING = "packaging: {max_line_bytes: 1024, max_ratio: 100}"
SPECS = {
    "csv": f"format: {{kind: csv, {PACKAGING}}}\n",
    "zip": "format: {kind: csv, packaging: {max_line_bytes: 1024, max_ratio: 100}}\n",
    "xml": f"format: {{kind: xml, record_element: claim, paths: {{ID: '@ID'}}, {PACKAGING}}}\n",
    "json": f"format: {{kind: json, record_path: data, {PACKAGING}}}\n",
    "ndjson": f"format: {{kind: ndjson, {PACKAGING}}}\n",
    "fixed": """
        format:
          kind: fixed_width
          record_types: {start: 1, detail: [D], skip: [H, T]}
          fields: [{name: ID, start: 2, length: 4}, {name: DAY, length: 8}, {name: AMOUNT, length: 6, picture: "9(4)V99"}]
    """,
    "parquet": "format: {kind: parquet}\n",
    "sas": "format: {kind: sas}\n",
    "pgp": "format: {kind: csv, packaging: {encryption: pgp, pgp_key_env: CARELAKE_TEST_UNSET_PGP_KEY}}\n",
}
SPECS |= {"gz": SPECS["csv"], "bz2": SPECS["csv"], "zst": SPECS["csv"]}


def test_the_corpus_has_at_least_fifty_files_and_each_has_an_expectation():
    files = sorted(p.name for p in (CORPUS / "files").iterdir())
    assert len(files) >= 50
    assert files == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file_gets_its_expected_outcome(tmp_path, name):
    expected = CASES[name]
    content = (CORPUS / "files" / name).read_bytes()
    spec = spec_of(SPECS[name.split("_")[0]], COLUMNS)
    if "error" in expected:
        with pytest.raises(DeliveryError) as caught:
            ingest_file(tmp_path, spec, name, content)
        message = str(caught.value)
        assert name in message and "Fix: " in message
        assert expected["error"] in message
        if "line" in expected:
            assert caught.value.line == expected["line"]
    else:
        raw, quarantine, _ = ingest_file(tmp_path, spec, name, content)
        rules = {}
        for column, rule in quarantine.select("column", "rule").iter_rows():
            rules[f"{column}:{rule}"] = rules.get(f"{column}:{rule}", 0) + 1
        assert (raw.height, rules) == (expected["raw"], expected.get("quarantine", {}))
    assert (tmp_path / "landed" / name).read_bytes() == content


# The hostile files (items 5-12 of the data-safety issue): a quarantined row points at the physical
# line its record starts on (`lines` in cases.yaml), and no error or reason quotes a delivered value.
WITH_LINES = sorted(name for name, case in CASES.items() if "lines" in case)
HOSTILE_ERRORS = [
    "csv_duplicate_header.csv", "xml_doctype_after_long_comment.xml", "xml_doctype_utf16.xml",
    "xml_undefined_entity.xml", "xml_partial_entity.xml", "json_deep_nesting.json",
]


@pytest.mark.parametrize("name", WITH_LINES)
def test_quarantined_rows_point_at_their_physical_line(tmp_path, name):
    spec = spec_of(SPECS[name.split("_")[0]], COLUMNS)
    _, quarantine, _ = ingest_file(tmp_path, spec, name, (CORPUS / "files" / name).read_bytes())
    assert quarantine["_line"].to_list() == CASES[name]["lines"]
    for reason, value in quarantine.select("reason", "value").iter_rows():
        assert value is None or value.strip() not in reason


@pytest.mark.parametrize("name", HOSTILE_ERRORS)
def test_hostile_file_errors_name_position_and_kind_only(tmp_path, name):
    spec = spec_of(SPECS[name.split("_")[0]], COLUMNS)
    with pytest.raises(DeliveryError) as caught:
        ingest_file(tmp_path, spec, name, (CORPUS / "files" / name).read_bytes())
    assert caught.value.line == CASES[name]["line"]
    for value in ("20250302", "1.50", "2.50"):
        assert value not in str(caught.value)
