"""Hostile values and positions (the data-safety issue, items 5-12): each is quarantined with a
reason, kept exact, or fails the file with a DeliveryError naming the file, the line and the fix;
never silently coerced. No error text or quarantine reason carries a delivered value."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import polars as pl
import pyreadstat
import pytest

from carelake.errors import DeliveryError
from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

NAME = "feed_20250302.csv"


def one_column(kind: str, extra: str = "", fmt: str = "{kind: csv}") -> object:
    return spec_of(f"format: {fmt}\n", f"columns:\n  - {{name: ID}}\n  - {{name: V, type: {kind}{extra}}}\n")


def read(tmp_path, spec, values: list[str], name: str = NAME):
    content = "ID,V\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values, start=1))
    return ingest_file(tmp_path, spec, name, content)


def assert_no_values(texts, values) -> None:
    """No reason / error text contains a delivered value (PHI): only positions and kinds."""
    for text in texts:
        for value in values:
            if len(value.strip()) > 2:
                assert value.strip() not in text, (value, text)


# ---- 5. dates ---------------------------------------------------------------------------------


def test_dates_need_every_field_at_full_width_and_no_sign(tmp_path):
    bad = ["2024023", "2024111", "+20240101", "-2024010", "202401011", " 2024011", "2024-01-01"]
    raw, quarantine, _ = read(tmp_path, one_column("date", ", input_format: '%Y%m%d'"), ["20240101", *bad])
    assert raw["V"].to_list() == [dt.date(2024, 1, 1)]
    assert quarantine.select("column", "rule").rows() == [("V", "type")] * len(bad)
    assert quarantine["value"].to_list() == [v.strip() for v in bad]  # the raw value (trimmed) is kept in quarantine
    assert quarantine["reason"][0] == "V: expected a date in format %Y%m%d"
    assert_no_values(quarantine["reason"], bad)


def test_iso_dates_and_datetimes_are_exact(tmp_path):
    raw, quarantine, _ = read(tmp_path, one_column("date"), ["2024-01-01", "+2024-01-01", "-2024-01-01", "2024-1-1", "02024-01-01"])
    assert raw["V"].to_list() == [dt.date(2024, 1, 1)] and quarantine.height == 4
    values = ["2024-01-01 01:02:03", "2024-01-01 01:02:03.5", "2024-01-01 1:2:3", "2024-01-01 01:02:03.123456789"]
    raw, quarantine, _ = read(tmp_path / "dt", one_column("datetime"), values)
    assert raw["V"].to_list() == [dt.datetime(2024, 1, 1, 1, 2, 3, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 1, 2, 3, 500000, tzinfo=dt.UTC)]
    assert quarantine["value"].to_list() == values[2:]  # single digits; nanoseconds would be truncated


def test_strptime_fraction_means_a_fraction_not_nanoseconds(tmp_path):
    spec = one_column("datetime", ", input_format: '%Y-%m-%d %H:%M:%S.%f'")
    raw, _, _ = read(tmp_path, spec, ["2024-01-01 01:02:03.5", "2024-01-01 01:02:03.000123"])
    assert raw["V"].to_list() == [dt.datetime(2024, 1, 1, 1, 2, 3, 500000, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 1, 2, 3, 123, tzinfo=dt.UTC)]


def test_9999_12_31_is_a_date_only_if_the_spec_says_so(tmp_path):
    _, quarantine, _ = read(tmp_path, one_column("date", ", input_format: '%Y%m%d'"), ["99991231", "17991231"])
    assert quarantine.select("rule", "value").rows() == [("type", "99991231"), ("type", "17991231")]
    assert "outside 1800-01-01 .. 2199-12-31" in quarantine["reason"][0] and "sentinels" in quarantine["reason"][0]
    raw, _, _ = read(tmp_path / "max", one_column("date", ", input_format: '%Y%m%d', valid_until: 9999-12-31"), ["99991231"])
    assert raw["V"].to_list() == [dt.date(9999, 12, 31)]
    raw, quarantine, _ = read(tmp_path / "sentinel", one_column("date", ", input_format: '%Y%m%d', sentinels: ['99991231']"), ["99991231", " 99991231"])
    assert raw["V"].to_list() == [None, None] and quarantine.height == 0


def test_a_sentinel_in_a_required_column_is_a_missing_value(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: V, type: float, nullable: false, sentinels: ['-999']}\n")
    raw, quarantine, _ = read(tmp_path, spec, ["-999", "-999.0"])
    assert raw["V"].to_list() == [-999.0]  # only the exact text is the sentinel
    assert quarantine.select("column", "rule", "value").rows() == [("V", "not_null", None)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", type: date, input_format: '%Y%m%d%z'", "%z is not supported"),
        (", type: date, input_format: '%Y%m%d%f'", "%f is not supported"),
        (", valid_from: 2000-01-01", "valid_from / valid_until are only allowed for date"),
        (", type: date, valid_from: 2000-01-01, valid_until: 1999-01-01", "is after valid_until"),
        (", type: integer, special_floats: accept", "special_floats is only allowed for float"),
        (", sentinels: ['']", "each value must be non-empty"),
        (", sentinels: [' NaN']", "without surrounding spaces"),
        (", sentinels: [x, x]", "listed twice"),
        (", strip_controls: maybe", "Input should be a valid boolean"),
        (", type: float, special_floats: allow", "Input should be 'reject' or 'accept'"),
    ],
)
def test_new_column_options_are_validated_at_load(extra, message):
    with pytest.raises(ValueError, match=message):
        spec_of("format: {kind: csv}\n", f"columns:\n  - {{name: V{extra}}}\n")


# ---- 6. floats --------------------------------------------------------------------------------


def test_non_finite_and_out_of_range_floats_are_quarantined(tmp_path):
    bad = ["1e309", "-1e309", "1e-400", "NaN", "nan", "inf", "-inf", "Infinity", "0x10", "1_000"]
    good = ["1.5", "-0", "0e5", "1e-310", ".5", "5.", "+1E3", "1.7976931348623157e308"]
    raw, quarantine, _ = read(tmp_path, one_column("float"), good + bad)
    assert raw["V"].to_list() == [float(v) for v in good]
    assert quarantine["value"].to_list() == bad
    assert set(quarantine["rule"]) == {"type"}
    assert "rounding to 0" in quarantine.filter(pl.col("value") == "1e-400")["reason"][0]


def test_special_floats_accept_reads_the_words_but_not_overflow(tmp_path):
    raw, quarantine, _ = read(tmp_path, one_column("float", ", special_floats: accept"), ["inf", "-Infinity", "NaN", "1e309", "1e-400"])
    values = raw["V"].to_list()
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2])
    assert quarantine["value"].to_list() == ["1e309", "1e-400"]


def test_nan_text_is_null_when_the_spec_lists_it_as_a_sentinel(tmp_path):
    raw, quarantine, _ = read(tmp_path, one_column("float", ", sentinels: [NaN, 'N/A']"), ["NaN", "N/A", "2.5"])
    assert raw["V"].to_list() == [None, None, 2.5] and quarantine.height == 0


def test_json_numbers_keep_their_delivered_text(tmp_path):
    spec = spec_of("format: {kind: json, record_path: data}\n", "columns:\n  - {name: ID}\n  - {name: V, type: decimal, precision: 20, scale: 2}\n  - {name: F, type: float}\n")
    content = '{"data": [{"ID": 1, "V": 12345678901234567.89, "F": 1e309}, {"ID": 2, "V": 0.1000000000000000055511151231257827}, {"ID": 3, "V": 1E+2, "F": NaN}, {"ID": 4, "V": 1.50, "F": 1e-400}]}'
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.json", content)
    assert raw.select("ID", "V").rows() == []
    assert quarantine.select("_line", "column").rows() == [(1, "F"), (2, "V"), (3, "F"), (4, "F")]
    assert quarantine["value"].to_list() == ["1e309", "0.1000000000000000055511151231257827", "NaN", "1e-400"]
    raw, _, _ = ingest_file(tmp_path / "ok", spec, "feed_20250302.json", '{"data": [{"ID": 1, "V": 12345678901234567.89}, {"ID": 2, "V": 1E+2, "F": 2.5e-3}]}')
    assert raw.select("V", "F").rows() == [(Decimal("12345678901234567.89"), None), (Decimal("100.00"), 0.0025)]


# ---- 7. strings -------------------------------------------------------------------------------

KEYED = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID, nullable: false}\n  - {name: NOTE}\nprimary_key: [ID]\n")


def test_control_characters_are_quarantined_and_tabs_and_line_breaks_kept(tmp_path):
    content = 'ID,NOTE\nA1,"a\tb"\nA2,"line\nbreak"\nA3,x\x00y\nA4,bell\x07\nA5,c1\x85!\n'.encode()
    raw, quarantine, _ = ingest_file(tmp_path, KEYED, NAME, content)
    assert raw.select("ID", "NOTE").rows() == [("A1", "a\tb"), ("A2", "line\nbreak")]
    assert quarantine.select("_line", "column", "rule").rows() == [(5, "NOTE", "control_chars"), (6, "NOTE", "control_chars"), (7, "NOTE", "control_chars")]
    assert quarantine["value"].to_list() == ["x\x00y", "bell\x07", "c1\x85!"]


@pytest.mark.parametrize("key", ["A\x001", "\u200bA1", "\ufeffA1", "A1\u200d", "A\u202e1", "A\t1", "e\u0301"])
def test_look_alike_keys_are_quarantined(tmp_path, key):
    raw, quarantine, _ = ingest_file(tmp_path, KEYED, NAME, f"ID,NOTE\nA1,x\n{key},y\n")
    assert raw["ID"].to_list() == ["A1"]
    assert quarantine.select("_line", "column", "rule", "value").rows() == [(3, "ID", "key_chars", key)]


def test_strip_controls_removes_them_and_normalises_keys(tmp_path):
    spec = spec_of(
        "format: {kind: csv}\n",
        "columns:\n  - {name: ID, strip_controls: true}\n  - {name: NOTE, strip_controls: true}\n  - {name: D, type: date, strip_controls: true}\nprimary_key: [ID]\n",
    )
    content = "ID,NOTE,D\n\u200bA1,x\x00y,2024-01-01\n\ufeffA2 ,a\tb,2024\x00-01-01\ne\u0301,\x07,\n"
    raw, quarantine, _ = ingest_file(tmp_path, spec, NAME, content)
    assert quarantine.height == 0
    assert raw.select("ID", "NOTE", "D").rows() == [("A1", "xy", dt.date(2024, 1, 1)), ("A2", "a\tb", dt.date(2024, 1, 1)), ("\u00e9", None, None)]


def test_fixed_width_control_characters_are_quarantined(tmp_path):
    spec = spec_of("format: {kind: fixed_width, fields: [{name: ID, length: 4}, {name: NOTE, length: 4}]}\n", "columns: [{name: ID}, {name: NOTE}]\n")
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.dat", "A1  abcd\nA2  a\x01cd\n")
    assert raw["ID"].to_list() == ["A1"] and quarantine.select("_line", "rule").rows() == [(2, "control_chars")]


# ---- 8. duplicate header names ----------------------------------------------------------------


def test_a_declared_column_named_twice_fails_the_file(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: AMOUNT, type: decimal}\n")
    with pytest.raises(DeliveryError) as caught:
        ingest_file(tmp_path, spec, NAME, "ID,AMOUNT,AMOUNT\n1,2.00,3.00\n")
    assert caught.value.line == 1 and "AMOUNT" in caught.value.problem and "ambiguous" in caught.value.problem
    assert "2.00" not in str(caught.value) and caught.value.fix


def test_an_undeclared_column_named_twice_is_only_drift(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n")
    raw, _, tally = ingest_file(tmp_path, spec, NAME, "ID,FILLER,FILLER\n1,a,b\n")
    assert raw["ID"].to_list() == ["1"] and tally.drift[NAME]["new"] == ["FILLER", "FILLER_duplicated_0"]


def test_a_fixed_width_field_laid_out_twice_is_a_spec_error():
    with pytest.raises(ValueError, match=r"\['ID'\] are laid out more than once"):
        spec_of("format: {kind: fixed_width, fields: [{name: ID, length: 4}, {name: ID, length: 4}]}\n", "columns: [{name: ID}]\n")


# ---- 9. positions -----------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_is_the_physical_line_a_record_starts_on_after_a_long_quoted_field(tmp_path, newline):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID}\n  - {name: NOTE}\n  - {name: AMOUNT, type: decimal}\n")
    long_field = '"' + newline.join(["x"] * 1000) + '"'
    content = newline.join(["ID,NOTE,AMOUNT", f"1,{long_field},1.00", "2,a,bad", '3,"two' + newline + 'lines",bad', "4,b,bad"]) + newline
    raw, quarantine, _ = ingest_file(tmp_path, spec, NAME, content)
    assert raw["_line"].to_list() == [2]
    assert quarantine["_line"].to_list() == [1002, 1003, 1005]


def test_line_counts_comment_lines_before_the_header_and_headerless_records(tmp_path):
    fmt = '{kind: csv, comment_prefix: "#"}'
    spec = one_column("integer", fmt=fmt)
    _, quarantine, _ = ingest_file(tmp_path / "c", spec, NAME, "# exported\n# by x\nID,V\n1,1\n2,x\n")
    assert quarantine["_line"].to_list() == [5]
    spec = one_column("integer", fmt="{kind: csv, header: false}")
    _, quarantine, _ = ingest_file(tmp_path / "h", spec, NAME, '1,"a\nb"\n2,x\n')
    assert quarantine["_line"].to_list() == [1, 3]


# ---- 10. SAS numbers and quarantine values ----------------------------------------------------


def test_sas_integers_beyond_2_53_are_quarantined_not_rounded(tmp_path):
    frame = pl.DataFrame({"ID": [900000000000000001.0, 1e20, 5.0, 12.5, None], "V": ["a", "b", "c", "d", "e"], "F": [1e20, 1.5, 3.0, 0.1, None]})
    path = tmp_path / "f.xpt"
    pyreadstat.write_xport(frame, str(path))
    spec = spec_of("format: {kind: sas}\n", "columns:\n  - {name: ID, nullable: false}\n  - {name: V}\n  - {name: F, type: float}\n")
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.xpt", path.read_bytes())
    assert raw.select("ID", "V", "F").rows() == [("5", "c", 3.0), ("12.5", "d", 0.1)]
    assert quarantine.select("_line", "column", "rule").rows() == [(1, "_record", "format"), (2, "_record", "format"), (5, "ID", "not_null")]
    assert "ID: a SAS number beyond +/-9007199254740991" in quarantine["reason"][0]
    assert quarantine["value"].to_list() == ['{"ID":"9e+17"}', '{"ID":"1e+20"}', None]
    assert "900000000000000000" not in raw["ID"].to_list()


def test_a_sas_float_column_keeps_large_doubles(tmp_path):
    path = tmp_path / "f.xpt"
    pyreadstat.write_xport(pl.DataFrame({"ID": ["1"], "F": [1e20]}), str(path))
    spec = spec_of("format: {kind: sas}\n", "columns:\n  - {name: ID}\n  - {name: F, type: float}\n")
    raw, _, _ = ingest_file(tmp_path, spec, "feed_20250302.xpt", path.read_bytes())
    assert raw["F"].to_list() == [1e20]


def test_a_quarantined_value_is_the_failing_columns_own_value(tmp_path):
    spec = spec_of("format: {kind: csv}\n", "columns:\n  - {name: ID, nullable: false}\n  - {name: AMOUNT, type: decimal}\n")
    _, quarantine, _ = ingest_file(tmp_path, spec, NAME, "ID,AMOUNT\n,x\n")
    assert quarantine.select("column", "rule", "value").rows() == [("ID", "not_null", None)]
    assert quarantine["reason"][0] == "ID: a value is required; AMOUNT: expected a decimal with at most 16 integer and 2 fraction digits"


# ---- 11. XML entities and DTDs ----------------------------------------------------------------

XML_SPEC = spec_of(
    "format: {kind: xml, record_element: claim, paths: {ID: '@ID'}}\n", "columns:\n  - {name: ID, nullable: false}\n  - {name: AMOUNT, type: decimal}\n"
)
XML_BODY = '<claims>\n<claim ID="1"><AMOUNT>{}</AMOUNT></claim>\n<claim ID="2"><AMOUNT>2.00</AMOUNT></claim>\n</claims>\n'


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (('<?xml version="1.0"?>\n<!--' + "x" * 70_000 + '-->\n<!DOCTYPE claims [<!ENTITY a "5">]>\n' + XML_BODY.format("&a;")).encode(), 3),
        (('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE claims [<!ENTITY a "5">]>\n' + XML_BODY.format("&a;")).encode("utf-16"), 2),
        (('<?xml version="1.0"?>\n' + "<!-- x -->\n" * 9000 + '<!DOCTYPE claims SYSTEM "claims.dtd">\n' + XML_BODY.format("&x;")).encode(), 9002),
    ],
    ids=["after_a_long_comment", "utf16", "external_after_many_comments"],
)
def test_a_dtd_is_refused_wherever_it_is_and_in_any_encoding(tmp_path, content, line):
    with pytest.raises(DeliveryError, match="the XML declares a DTD / entities, which are refused") as caught:
        ingest_file(tmp_path, XML_SPEC, "feed_20250302.xml", content)
    assert caught.value.line == line and caught.value.fix


@pytest.mark.parametrize("amount", ["&x;", "1.&amt;"])
def test_an_undeclared_entity_fails_the_file_instead_of_vanishing(tmp_path, amount):
    with pytest.raises(DeliveryError, match="refers to an entity it does not declare") as caught:
        ingest_file(tmp_path, XML_SPEC, "feed_20250302.xml", '<?xml version="1.0"?>\n' + XML_BODY.format(amount))
    assert caught.value.line == 3


def test_utf16_xml_without_a_dtd_and_predefined_entities_are_read(tmp_path):
    content = ('<?xml version="1.0" encoding="UTF-16"?>\n' + XML_BODY.format("1&#46;5&#48;")).encode("utf-16")
    raw, _, _ = ingest_file(tmp_path, XML_SPEC, "feed_20250302.xml", content)
    assert raw.select("_line", "AMOUNT").rows() == [(3, Decimal("1.50")), (4, Decimal("2.00"))]


# ---- 12. clear errors -------------------------------------------------------------------------


def test_deep_json_fails_with_the_line_and_the_fix(tmp_path):
    spec = spec_of("format: {kind: json}\n", "columns: [{name: A}]\n")
    content = '[\n{"A": "1"},\n' + "[" * 10_000 + "]" * 10_000 + "\n]"
    with pytest.raises(DeliveryError) as caught:
        ingest_file(tmp_path, spec, "feed_20250302.json", content)
    assert caught.value.line == 3 and "nests deeper than 500 levels" in caught.value.problem and caught.value.fix
    assert "RecursionError" not in str(caught.value)


def test_a_deep_ndjson_line_is_quarantined_alone(tmp_path):
    spec = spec_of("format: {kind: ndjson}\n", "columns: [{name: A}]\n")
    raw, quarantine, _ = ingest_file(tmp_path, spec, "feed_20250302.ndjson", '{"A": "1"}\n' + "[" * 10_000 + "]" * 10_000 + '\n{"A": "3"}\n')
    assert raw.select("_line", "A").rows() == [(1, "1"), (3, "3")]
    assert quarantine.select("_line", "column", "reason").rows() == [(2, "_record", "the record nests deeper than the JSON parser allows")]


@pytest.mark.parametrize(("content", "found", "declared"), [("1,2,3,4,5,6,7\n", 7, 3), ("1,2\n1,2,3\n", 2, 3)])
def test_a_headerless_csv_with_another_field_count_fails_clearly(tmp_path, content, found, declared):
    spec = spec_of("format: {kind: csv, header: false}\n", "columns: [{name: A}, {name: B}, {name: C}]\n")
    with pytest.raises(DeliveryError) as caught:
        ingest_file(tmp_path, spec, NAME, content)
    assert caught.value.line == 1
    assert f"the first record has {found} fields but the spec declares {declared}" in caught.value.problem
    assert "SchemaError" not in str(caught.value) and "declare every field" in caught.value.fix
