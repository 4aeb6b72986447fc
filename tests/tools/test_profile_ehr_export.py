"""`carelake profile` on an EHR-style export (the shape of Synthea's patients.csv): names with digits,
birth dates, zoned timestamps, coordinates, race, counts. PHI found by names and values together, a
report with no value in clear, and a draft that ingests the file through Dagster with no quarantine."""

from __future__ import annotations

import csv
import datetime as dt
import random
import uuid
from pathlib import Path

import dagster as dg
import yaml
from faker import Faker

from carelake.names import table_key
from carelake.tools.cli import main
from carelake.tools.profiling.profiler import profile_file
from carelake.tools.profiling.report import format_report
from platform_assets.assembly import build_definitions
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.runs import failure_message, materialize

ROWS = 240
RACES = ["white", "black", "asian", "hispanic", "native", "hawaiian"]


def write_patients(path: Path, rows: int = ROWS, seed: int = 7, zone: str = "Z") -> list[dict]:
    """A patients export: the values a person would be identified by, and some that only look like it."""
    fake, rng = Faker("en_US"), random.Random(seed)
    fake.seed_instance(seed)
    records = []
    for _ in range(rows):
        start = dt.datetime(2019, 1, 1) + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        stamp = start.strftime("%Y-%m-%dT%H:%M:%S") + (zone if zone == "Z" else rng.choice(["+01:00", "-05:00", "+00:00"]))
        records.append({
            "Id": str(uuid.UUID(int=rng.getrandbits(128))),
            "BIRTHDATE": fake.date_between(dt.date(1925, 1, 1), dt.date(2015, 12, 31)).isoformat(),
            "FIRST": f"{fake.first_name()}{rng.randrange(10, 999)}",
            "LAST": f"{fake.last_name()}{rng.randrange(10, 999)}",
            "RACE": rng.choice(RACES),
            "BIRTHPLACE": f"{fake.city()}  {fake.state()}  US",
            "COUNTY": f"{fake.last_name()} County",
            "LAT": f"{rng.uniform(41.2, 42.9):.14f}",
            "LON": f"{rng.uniform(-73.5, -69.9):.14f}",
            "MEMBER_MONTHS": str(rng.randrange(0, 37)),
            "ENCOUNTER_START": stamp,
            "ZIP": f"{rng.randrange(1001, 2791):05d}",
            "HEALTHCARE_EXPENSES": f"{rng.uniform(0, 250000):.2f}",
        })
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return records


EXPECTED_PHI = {
    "Id": "other", "BIRTHDATE": "birth_date", "FIRST": "name", "LAST": "name", "RACE": None, "BIRTHPLACE": "address",
    "COUNTY": "address", "LAT": "address", "LON": "address", "MEMBER_MONTHS": None, "ENCOUNTER_START": "date",
    "ZIP": "zip", "HEALTHCARE_EXPENSES": None,
}


def test_first_names_birthplaces_counties_and_coordinates_are_phi_but_race_and_member_months_are_not(tmp_path):
    write_patients(tmp_path / "patients.csv")
    profile = profile_file(tmp_path / "patients.csv")
    columns = {c.name: c for c in profile.columns}
    assert {name: c.phi.category.value if c.phi else None for name, c in columns.items()} == EXPECTED_PHI
    assert columns["MEMBER_MONTHS"].type == "integer" and columns["LAT"].type == "float"
    assert all(0.5 <= c.phi_confidence <= 1 for c in profile.columns)
    assert (columns["FIRST"].phi.evidence, columns["LAT"].phi.evidence) == ("name and values", "name and values (coordinates)")
    assert columns["Id"].phi.evidence.startswith("values (100% look like an identifier")


def test_zulu_timestamps_are_drafted_as_utc_datetimes(tmp_path):
    write_patients(tmp_path / "patients.csv")
    start = {c.name: c for c in profile_file(tmp_path / "patients.csv").columns}["ENCOUNTER_START"]
    assert (start.type, start.input_format, start.zoned) == ("datetime", None, True) and "UTC" in start.note
    assert start.phi.masking.value == "year_only"


def test_timestamps_with_offsets_are_drafted_as_zoned_datetimes_masked_to_their_year(tmp_path):
    write_patients(tmp_path / "patients.csv", zone="offset")
    start = {c.name: c for c in profile_file(tmp_path / "patients.csv").columns}["ENCOUNTER_START"]
    assert (start.type, start.input_format, start.zoned) == ("datetime", None, True)
    assert (start.phi.category.value, start.phi.masking.value) == ("date", "year_only")


def test_the_report_shows_no_value_of_any_column_and_says_what_transformed_does(tmp_path):
    records = write_patients(tmp_path / "patients.csv")
    report = format_report(profile_file(tmp_path / "patients.csv"))
    for record in records[:40]:
        for name, value in record.items():
            if len(value) > 2:  # a shape of a 1-2 digit count is the count's shape; longer values must not appear
                assert value not in report, name
    for race in RACES:
        assert race not in report
    assert "removed (null)" in report and "hashed" in report and "the birth year" in report and "kept as delivered" in report


def _raw_and_transformed(settings, instance, provider: str, table: str, partition: str):
    assets = build_definitions(settings).resolve_assets_def(dg.AssetKey(["raw", provider, table]))
    result = materialize(assets, instance, partition=partition)
    assert result.success, failure_message(result)
    raw = next(m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "raw").materialization.metadata
    lake = DeltaLake(root=settings.lake_root)
    transformed = lake.read(table_key("transformed", f"{provider}/{table}"), PartitionSelection.of_keys([partition]))
    return raw, transformed


def test_the_draft_of_a_clean_export_ingests_it_with_nothing_quarantined(settings, instance, capsys):
    landing = settings.landing_root / "ehr"
    landing.mkdir(parents=True)
    file = landing / "patients_20250301.csv"
    records = write_patients(file)
    sources = str(settings.sources_dir)
    assert main(["profile", str(file), "--provider", "ehr", "--table", "patients", "--sources", sources]) == 0
    out = capsys.readouterr().out
    assert records[0]["FIRST"] not in out and records[0]["Id"] not in out
    text = (settings.sources_dir / "ehr" / "patients.yaml").read_text()
    assert "# PHI name" in text and "transformed: removed (null)" in text and "# not PHI" in text
    draft = yaml.safe_load(text)
    assert (draft["cadence"], draft["delivery"]["file_pattern"]) == ("daily", "patients_{date:%Y%m%d}.csv")
    assert main(["validate", "--sources", sources]) == 0

    raw, transformed = _raw_and_transformed(settings, instance, "ehr", "patients", "2025-03-01")
    assert (raw["dagster/row_count"].value, raw["rows_quarantined"].value) == (ROWS, 0)
    assert transformed.height == ROWS
    assert transformed["FIRST"].null_count() == ROWS and transformed["LAT"].null_count() == ROWS  # redacted
    assert transformed["ENCOUNTER_START"].min() >= 2019 and transformed["ZIP"].str.len_chars().max() == 3


def test_a_draft_with_offset_timestamps_ingests_them_as_utc_and_keeps_only_their_year(settings, instance):
    landing = settings.landing_root / "ehr"
    landing.mkdir(parents=True)
    file = landing / "patients_20250301.csv"
    write_patients(file, zone="offset")
    assert main(["profile", str(file), "--provider", "ehr", "--table", "patients", "--sources", str(settings.sources_dir)]) == 0
    raw, transformed = _raw_and_transformed(settings, instance, "ehr", "patients", "2025-03-01")
    assert (raw["dagster/row_count"].value, raw["rows_quarantined"].value) == (ROWS, 0)
    assert set(transformed["ENCOUNTER_START"].unique().to_list()) <= {2019, 2020, 2021, 2022}
