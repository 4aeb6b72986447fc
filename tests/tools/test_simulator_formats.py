"""The simulator writes every delivery format and packaging its readers accept: simulate -> landed -> raw
-> transformed through Dagster loses no row and quarantines exactly the injected faults."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from carelake.formats.unpacking import stop_gpg_agent
from carelake.names import QUARANTINE, table_key
from carelake.tools.simulation import Fault, FaultRates, Simulator
from platform_assets.feeds import asset_key
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.runs import failure_message, feed_def, layer_counts, materialize
from tests.support.specs import feed_spec, write_spec

DAY = (dt.date(2026, 10, 1), dt.date(2026, 10, 2))

COLUMNS = """
columns:
  - {name: CLM_ID, type: string, nullable: false, semantic: claim_id}
  - {name: LINE_NO, type: integer, nullable: false, semantic: line_number}
  - {name: MBR_ID, type: string, nullable: false, semantic: member_id, phi: member_id}
  - {name: SVC_DT, type: date, nullable: false, input_format: "%Y%m%d", semantic: service_date}
  - {name: NPI, type: string, semantic: npi}
  - {name: DX1, type: string, semantic: icd10}
  - {name: BILLED_AMT, type: decimal, precision: 12, scale: 2, nullable: false, semantic: money}
  - {name: PAID_AMT, type: decimal, precision: 12, scale: 2, semantic: money}
primary_key: [CLM_ID, LINE_NO]
"""

FIXED_WIDTH = """
  kind: fixed_width
  record_types: {start: 1, length: 1, detail: [D], skip: [H, T]}
  packaging: {zip_member: "claims_*.txt"}
  fields:
    - {name: CLM_ID, start: 2, length: 20}
    - {name: LINE_NO, length: 3}
    - {name: MBR_ID, length: 12}
    - {name: SVC_DT, length: 8}
    - {name: NPI, length: 10}
    - {name: DX1, length: 8}
    - {name: BILLED_AMT, length: 9, picture: 9(7)V99}
    - {name: PAID_AMT, length: 10, picture: S9(7)V99, sign: leading}
"""
XML = """
  kind: xml
  record_element: claim
  paths: {CLM_ID: "@id", LINE_NO: "@line", SVC_DT: "service/@date", NPI: "provider/@npi", DX1: "diagnosis/code"}
"""

FORMATS = {
    "csv_gzip": ("SIM_{date:%Y%m%d}.csv.gz", "{kind: csv}"),
    "fixed_width_zip": ("SIM_{date:%Y%m%d}.zip", FIXED_WIDTH),
    "xml_zstd": ("SIM_{date:%Y%m%d}.xml.zst", XML),
    "json": ("SIM_{date:%Y%m%d}.json", "{kind: json, record_path: data.claims, paths: {MBR_ID: member.id}}"),
    "ndjson_bzip2": ("SIM_{date:%Y%m%d}.ndjson.bz2", "{kind: ndjson}"),
    "parquet": ("SIM_{date:%Y%m%d}.parquet", "{kind: parquet}"),
    "sas_xpt": ("SIM_{date:%Y%m%d}.xpt", "{kind: sas}"),
    "sas_xpt_gzip": ("SIM_{date:%Y%m%d}.xpt.gz", "{kind: sas}"),  # variant auto sees .xpt under .gz
}


def simco_spec(settings, table: str, pattern: str, fmt: str):
    """Write feed simco/<table> delivering `pattern` in format `fmt` (flow or block YAML) and load it."""
    fmt = fmt.strip() if fmt.lstrip().startswith("{") else fmt.rstrip()
    write_spec(settings, "simco", table, (
        "description: simulated claims, one feed per format\n"
        "owners: [team:simulation]\n"
        "cadence: daily\n"
        "start_date: 2026-01-01\n"
        f"delivery: {{channel: {{kind: local, path: simco}}, file_pattern: '{pattern}'}}\n"
        f"format: {fmt}\n"
    ) + COLUMNS.lstrip())
    return feed_spec(settings, f"simco/{table}")


def run_day(settings, instance, spec):
    _, assets = feed_def(settings, spec.provider, spec.table)
    result = materialize(assets, instance, partition=DAY[0].isoformat())
    assert result.success, failure_message(result)
    return layer_counts(DeltaLake(root=settings.lake_root), spec)


@pytest.mark.parametrize("case", sorted(FORMATS))
def test_every_format_round_trips_through_the_pipeline_without_quarantine(settings, instance, case):
    spec = simco_spec(settings, case, *FORMATS[case])
    report = Simulator(settings.landing_root, seed=11, rows_per_delivery=40).simulate(spec, *DAY)
    assert [d.rows for d in report.deliveries] == [40] and not report.faults
    assert run_day(settings, instance, spec) == (40, 0)
    # Every generated value is non-empty: a value the reader cannot find would show up as a null.
    raw = DeltaLake(root=settings.lake_root).read(asset_key("raw", spec), PartitionSelection.everything())
    columns = [c.name for c in spec.columns]
    assert raw.select(columns).null_count().row(0) == (0,) * len(columns)
    assert sorted(raw["LINE_NO"].to_list()) == [1] * 20 + [2] * 20


def test_fixed_width_lines_follow_the_layout_with_header_and_trailer_records_in_a_named_zip_member(settings):
    spec = simco_spec(settings, "fixed", *FORMATS["fixed_width_zip"])
    (delivery,) = Simulator(settings.landing_root, seed=11, rows_per_delivery=4).simulate(spec, *DAY).deliveries
    with zipfile.ZipFile(delivery.path) as archive:
        (member,) = archive.namelist()
        lines = archive.read(member).decode().splitlines()
    assert member == "claims_SIM_20261001.txt"
    assert [line[0] for line in lines] == ["H", "D", "D", "D", "D", "T"] and lines[-1].startswith("T000000004")
    assert {len(line) for line in lines} == {1 + 20 + 3 + 12 + 8 + 10 + 8 + 9 + 10}
    billed, paid = lines[1][62:71], lines[1][71:81]
    assert billed.isdigit() and paid[0] == "+" and paid[1:].isdigit()


def test_a_byte_fault_is_inside_the_compressed_file_and_fails_the_partition(settings, instance):
    spec = simco_spec(settings, "cut", *FORMATS["csv_gzip"])
    report = Simulator(settings.landing_root, seed=2).simulate(spec, *DAY, faults=FaultRates({Fault.truncated: 1.0}))
    (delivery,) = report.deliveries
    assert gzip.decompress(delivery.path.read_bytes())  # the archive is intact, its content is cut
    _, assets = feed_def(settings, spec.provider, spec.table)
    result = materialize(assets, instance, partition=DAY[0].isoformat())
    assert not result.success and "looks truncated" in failure_message(result)


@pytest.mark.parametrize("case", ["xml_zstd", "fixed_width_zip", "sas_xpt"])
def test_row_faults_are_quarantined_at_the_injected_lines(settings, instance, case):
    spec = simco_spec(settings, "faulty", *FORMATS[case])
    report = Simulator(settings.landing_root, seed=4, rows_per_delivery=60).simulate(spec, *DAY, fault_rate=0.3)
    assert report.faulty_rows > 5
    raw, quarantined = run_day(settings, instance, spec)
    assert (raw, quarantined) == (report.rows - report.faulty_rows, report.faulty_rows)
    quarantine = DeltaLake(root=settings.lake_root).read(table_key(QUARANTINE, spec), PartitionSelection.everything())
    # A zip member is named `archive!member` in quarantine; the simulator reports the delivered file.
    assert {(r["_file"].split("!")[0], r["_line"], r["column"]) for r in quarantine.iter_rows(named=True)} == {
        (f.file, f.line, f.column) for f in report.faults}


def test_pgp_deliveries_are_encrypted_to_the_key_the_pipeline_decrypts_with(settings, instance, tmp_path, monkeypatch, request):
    import gnupg

    # A short home: gpg-agent's socket path must fit in ~100 characters, pytest's tmp_path may not.
    home = tempfile.mkdtemp(prefix="gpg-")
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    request.addfinalizer(lambda: stop_gpg_agent(Path(home)))
    gpg = gnupg.GPG(gnupghome=home)
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH", subkey_curve="cv25519",
                                        name_email="feeds@simco.example", no_protection=True))
    assert key.fingerprint, key.stderr
    monkeypatch.setenv("SIMCO_PGP_KEY", gpg.export_keys(key.fingerprint, secret=True, expect_passphrase=False))
    spec = simco_spec(settings, "secret", "SIM_{date:%Y%m%d}.ndjson.gz.pgp",
                      "{kind: ndjson, packaging: {encryption: pgp, pgp_key_env: SIMCO_PGP_KEY}}")
    report = Simulator(settings.landing_root, seed=11, rows_per_delivery=30).simulate(spec, *DAY)
    (delivery,) = report.deliveries
    assert b"CLM_ID" not in delivery.path.read_bytes()
    assert run_day(settings, instance, spec) == (30, 0)
    monkeypatch.delenv("SIMCO_PGP_KEY")
    with pytest.raises(ValueError, match="the PGP key variable SIMCO_PGP_KEY is not set"):
        Simulator(tmp_path / "again", seed=11).simulate(spec, *DAY)


def test_volume_mode_refuses_formats_whose_chunks_cannot_be_appended(settings, tmp_path):
    from carelake.tools.simulation.volume import write_volume

    spec = simco_spec(settings, "big", *FORMATS["xml_zstd"])
    with pytest.raises(NotImplementedError, match="volume mode writes line formats only"):
        write_volume(spec, tmp_path / "big.xml", 1000, DAY)
    assert not (tmp_path / "big.xml").exists()


def test_fixed_width_pictures_write_what_the_reader_reads_back_including_signs(settings, tmp_path):
    import polars as pl

    from carelake.formats.fixed_width import read_fixed_width
    from carelake.tools.simulation.writers import writer_for

    spec = simco_spec(settings, "pictures", *FORMATS["fixed_width_zip"])
    values = {"BILLED_AMT": ["0.05", "1234567.89", "12.3"], "PAID_AMT": ["-12.34", "0.00", None]}
    frame = pl.DataFrame({c.name: values.get(c.name, ["X1", "", "Z3"]) for c in spec.columns}, schema={c.name: pl.String for c in spec.columns})
    path = tmp_path / "pictures.txt"
    path.write_bytes(writer_for(spec)(spec, frame, True))
    read = read_fixed_width(spec, path, path.name).frame.collect()
    money = [pl.col(c).cast(pl.Decimal(12, 2)) for c in ("BILLED_AMT", "PAID_AMT")]
    assert read.select("_line", *money, "DX1").rows() == [
        (2, Decimal("0.05"), Decimal("-12.34"), "X1"), (3, Decimal("1234567.89"), Decimal("0.00"), None),
        (4, Decimal("12.30"), None, "Z3")]
