"""The hostile files of the malformed corpus (tests/malformed, items 5-12 of the data-safety issue):
a quarantined row points at the physical line its record starts on (`lines` in cases.yaml), and no
error or reason quotes a delivered value. Outcomes themselves are checked by test_ingest_malformed."""

from __future__ import annotations

import pytest

from carelake.errors import DeliveryError
from tests.ingest_support import ingest_file, spec_of
from tests.test_ingest_malformed import CASES, COLUMNS, CORPUS, SPECS

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
