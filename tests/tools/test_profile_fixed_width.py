"""`carelake profile` on fixed-width files: detected as such (never as a one-column CSV with a header),
fields drafted from blank positions and changes of kind, a clear refusal when no layout can be drafted,
and a draft that ingests a CMS-style beneficiary file through Dagster with every record accounted for."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import dagster as dg
import pytest
import yaml

from carelake.tools.cli import main
from carelake.tools.profiling.layout import sniff
from carelake.tools.profiling.profiler import profile_file
from carelake.tools.profiling.report import format_report
from platform_assets.assembly import build_definitions
from tests.support.runs import failure_message, materialize

ROWS = 300
# The CMS-style layout written below: (name, 1-based start, length).
LAYOUT = [("DESYNPUF_ID", 1, 16), ("BENE_BIRTH_DT", 17, 8), ("BENE_DEATH_DT", 25, 8), ("BENE_SEX_IDENT_CD", 33, 1),
          ("SP_STATE", 34, 2), ("BENE_COUNTY_CD", 36, 3), ("FILLER", 39, 2), ("BENE_HI_CVRAGE_TOT_MONS", 41, 2),
          ("MEDREIMB_IP", 43, 10), ("BENE_ESRD_IND", 53, 1), ("FILLER_END", 54, 5)]
# What the profiler can see: blank filler joins the field before it.
DRAFTED = [(1, 16), (17, 8), (25, 8), (33, 1), (34, 2), (36, 5), (41, 4), (45, 8), (53, 6)]


def write_beneficiaries(path: Path, rows: int = ROWS, seed: int = 3) -> list[str]:
    """Beneficiary records of 58 characters: hex ids, YYYYMMDD dates (deaths mostly blank), codes, right-aligned amounts."""
    rng = random.Random(seed)
    lines = []
    for i in range(rows):
        birth = dt.date(1920, 1, 1) + dt.timedelta(days=rng.randrange(70 * 365))
        death = (birth + dt.timedelta(days=rng.randrange(60 * 365, 80 * 365))) if i % 7 == 0 else None
        amount = 99999.99 if i == 0 else rng.uniform(100, 99999)
        values = [f"{rng.getrandbits(64):016X}", f"{birth:%Y%m%d}", f"{death:%Y%m%d}" if death else "", str(rng.choice([1, 2])),
                  rng.choice(["MA", "NY", "CA", "TX", "OH"]), f"{rng.randrange(0, 999):03d}", "", f"{rng.randrange(0, 13):02d}",
                  f"{amount:.2f}".rjust(10), rng.choice("YN"), ""]
        lines.append("".join(v.ljust(length) for v, (_, _, length) in zip(values, LAYOUT, strict=True)))
    path.write_text("".join(f"{line}\n" for line in lines))
    return lines


def test_a_fixed_width_file_is_detected_and_its_fields_drafted_from_blanks_and_changes_of_kind(tmp_path):
    write_beneficiaries(tmp_path / "bene.txt")
    layout = sniff(tmp_path / "bene.txt")
    assert (layout.kind, layout.header, layout.fields) == ("fixed_width", False, DRAFTED)


def test_the_first_record_of_a_fixed_width_file_is_data_and_every_field_is_typed(tmp_path):
    lines = write_beneficiaries(tmp_path / "bene.txt")
    profile = profile_file(tmp_path / "bene.txt")
    assert profile.rows == ROWS and not profile.header
    columns = profile.columns
    assert [c.type for c in columns] == ["string", "date", "date", "integer", "string", "string", "string", "decimal", "string"]
    assert columns[0].values[0] == lines[0][:16]  # the first record is a row, not column names
    found = [c.phi.category.value if c.phi else None for c in columns]
    assert found == ["other", "birth_date", "date", None, None, None, None, None, None]
    report = format_report(profile)
    assert "fixed-width, 58 characters a record, 9 fields, no header" in report
    assert lines[0][:16] not in report and lines[0][16:24] not in report


@pytest.mark.parametrize("lines, why", [
    (["AB  12", "ABCD  123", "A  1"], "3 line lengths"),
    (["XMEMBER     DOB", *["X1B2C3D4 19230501  "] * 5], "line 1 (15 characters) differs: a header record"),
    (["".join(random.Random(i).choice("ABCDEFGH ") for _ in range(20)) + "Z" for i in range(30)], "no column boundary was found"),
])
def test_a_file_with_no_layout_to_draft_is_refused_with_the_reason(tmp_path, capsys, lines, why):
    path = tmp_path / "odd.txt"
    path.write_text("".join(f"{line}\n" for line in lines))
    with pytest.raises(ValueError, match="cannot draft a layout|no column boundary") as refused:
        profile_file(path)
    assert why in str(refused.value)
    assert main(["profile", str(path), "--out", str(tmp_path / "draft.yaml")]) == 1
    assert why in capsys.readouterr().err and not (tmp_path / "draft.yaml").exists()


def test_the_draft_of_a_cms_style_fixed_width_file_ingests_every_record_with_nothing_quarantined(settings, instance):
    landing = settings.landing_root / "cms"
    landing.mkdir(parents=True)
    file = landing / "BENE_FIXED_2009.txt"
    write_beneficiaries(file)
    sources = str(settings.sources_dir)
    assert main(["profile", str(file), "--provider", "cms", "--table", "bene_fixed", "--sources", sources]) == 0
    text = (settings.sources_dir / "cms" / "bene_fixed.yaml").read_text()
    draft = yaml.safe_load(text)
    assert draft["format"]["kind"] == "fixed_width" and "header" not in draft["format"]
    assert [(f["start"], f["length"]) for f in draft["format"]["fields"]] == DRAFTED
    assert "# fixed-width, 58 characters a record" in text and "transformed: hashed" in text
    assert main(["validate", "--sources", sources]) == 0

    assets = build_definitions(settings).resolve_assets_def(dg.AssetKey(["raw", "cms", "bene_fixed"]))
    result = materialize(assets, instance, partition="2009-01-01")
    assert result.success, failure_message(result)
    raw = next(m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "raw").materialization.metadata
    assert (raw["dagster/row_count"].value, raw["rows_quarantined"].value) == (ROWS, 0)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"]


def test_a_list_of_ids_of_one_length_is_one_column_whose_first_line_is_data(tmp_path):
    ids = [f"{random.Random(i).getrandbits(64):016X}" for i in range(30)]
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    profile = profile_file(tmp_path / "ids.txt")
    assert (profile.layout.kind, profile.header, profile.rows, len(profile.columns)) == ("csv", False, 30, 1)


def _with_control_records(path: Path, header: str, trailer: str) -> list[str]:
    lines = ["D" + line for line in write_beneficiaries(path)]
    path.write_text("".join(f"{line}\n" for line in [header, *lines, trailer]))
    return lines


@pytest.mark.parametrize("header, trailer", [
    ("HCMS BENEFICIARY EXTRACT 2009", "T000000300"),  # shorter control records
    ("HCMS BENEFICIARY EXTRACT 2009".ljust(59), "T000000300".ljust(59)),  # padded to the record length
])
def test_header_and_trailer_records_become_record_types_and_only_details_are_rows(settings, instance, header, trailer):
    landing = settings.landing_root / "cms"
    landing.mkdir(parents=True)
    file = landing / "BENE_FIXED_2009.txt"
    _with_control_records(file, header, trailer)
    layout = sniff(file)
    assert layout.record_types == {"start": 1, "length": 1, "detail": ["D"], "skip": ["H", "T"]}
    assert layout.fields == [(start + 1, length) for start, length in DRAFTED]
    assert main(["profile", str(file), "--provider", "cms", "--table", "bene_fixed", "--sources", str(settings.sources_dir)]) == 0
    assets = build_definitions(settings).resolve_assets_def(dg.AssetKey(["raw", "cms", "bene_fixed"]))
    result = materialize(assets, instance, partition="2009-01-01")
    assert result.success, failure_message(result)
    raw = next(m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "raw").materialization.metadata
    assert (raw["dagster/row_count"].value, raw["rows_quarantined"].value) == (ROWS, 0)


def test_a_first_record_that_only_starts_differently_is_still_data(tmp_path):
    lines = ["1" + line for line in write_beneficiaries(tmp_path / "bene.txt")]
    first = "Z" + lines[0][1:]  # every record starts with 1 but this one: still a record, not a header
    (tmp_path / "bene.txt").write_text("".join(f"{line}\n" for line in [first, *lines[1:]]))
    profile = profile_file(tmp_path / "bene.txt")
    assert profile.layout.record_types is None and profile.rows == ROWS


def test_a_reference_file_with_a_ragged_last_field_is_refused_with_the_fields_it_does_show(tmp_path):
    # The shape of CMS's ICD-10-CM order file: order number, code, header flag, short and long descriptions,
    # each line ending where its long description ends.
    rng = random.Random(5)
    words = ["Cholera", "due", "to", "Vibrio", "unspecified", "infection", "acute", "chronic", "with", "complication"]
    lines = []
    for i in range(40):
        code = f"A{rng.randrange(0, 99):02d}{rng.randrange(0, 9999)}"
        short = " ".join(rng.choice(words) for _ in range(3))
        long = " ".join(rng.choice(words) for _ in range(rng.randrange(3, 9)))
        lines.append(f"{i + 1:05d} {code:<7} {i % 2} {short:<60} {long}")
    path = tmp_path / "icd10cm_order_2025.txt"
    path.write_text("".join(f"{line}\n" for line in lines))
    with pytest.raises(ValueError, match="ragged last field") as refused:
        profile_file(path)
    assert "starting at 1, 7, 15, 17" in str(refused.value)


def test_a_csv_with_line_breaks_in_quoted_values_is_delimited_with_its_header(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('MEMBER_ID,NOTE,VISITS\n' + "".join(f'M{i:07d},"called back\nleft message",{i}\n' for i in range(12)))
    profile = profile_file(path)
    assert (profile.layout.kind, profile.delimiter, profile.header, profile.rows) == ("csv", ",", True, 12)
