"""Compressed, archived and encrypted deliveries, and the defences against hostile files."""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile

import pytest
import zstandard

from carelake.errors import DeliveryError
from carelake.formats.unpacking import stop_gpg_agent
from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

CSV = "ID,AMOUNT\n1,1.50\n2,2.50\n"


def spec(packaging: str = "{}"):
    return spec_of(f"format: {{kind: csv, packaging: {packaging}}}\n", """
        columns:
          - {name: ID, nullable: false}
          - {name: AMOUNT, type: decimal}
    """)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "pack"),
    [
        ("feed_20250302.csv.gz", gzip.compress),
        ("feed_20250302.csv.bz2", bz2.compress),
        ("feed_20250302.csv.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("feed_20250302.csv.zip", lambda b: zipped({"feed.csv": b})),
    ],
    ids=["gzip", "bzip2", "zstd", "zip"],
)
def test_compression_is_recognised_by_extension(tmp_path, name, pack):
    raw, _, _ = ingest_file(tmp_path, spec(), name, pack(CSV.encode()))
    assert raw["ID"].to_list() == ["1", "2"]


def test_declared_compression_overrides_the_extension(tmp_path):
    raw, _, _ = ingest_file(tmp_path, spec("{compression: gzip}"), "feed_20250302.dat", gzip.compress(CSV.encode()))
    assert raw.height == 2


def test_zip_members_matching_the_pattern_are_each_read_and_named(tmp_path):
    archive = zipped({"readme.txt": b"not data", "part1.csv": CSV.encode(), "sub/part2.csv": b"ID,AMOUNT\n3,x\n"})
    raw, quarantine, _ = ingest_file(tmp_path, spec("{zip_member: 'part*.csv'}"), "feed_20250302.zip", archive)
    assert raw.select("_file", "ID").rows() == [("feed_20250302.zip!part1.csv", "1"), ("feed_20250302.zip!part1.csv", "2")]
    assert quarantine.select("_file", "_line", "value").rows() == [("feed_20250302.zip!sub/part2.csv", 2, "x")]


def test_a_zip_with_several_members_needs_a_member_pattern(tmp_path):
    with pytest.raises(DeliveryError, match="the archive has 2 members and no zip_member pattern"):
        ingest_file(tmp_path, spec(), "feed_20250302.zip", zipped({"a.csv": CSV.encode(), "b.csv": CSV.encode()}))


def test_zip_members_escaping_the_folder_are_refused(tmp_path):
    with pytest.raises(DeliveryError, match=r"zip member '../../etc/feed.csv' has a path escaping the archive folder"):
        ingest_file(tmp_path, spec(), "feed_20250302.zip", zipped({"../../etc/feed.csv": CSV.encode()}))


def test_a_decompression_bomb_stops_at_the_ratio_limit_and_the_file_stays(tmp_path):
    bomb = gzip.compress(b"0" * (50 << 20))
    with pytest.raises(DeliveryError, match=r"decompressing it exceeds \d+ bytes \(200x its size"):
        ingest_file(tmp_path, spec(), "feed_20250302.csv.gz", bomb)
    assert (tmp_path / "landed" / "feed_20250302.csv.gz").read_bytes() == bomb


def test_a_truncated_gzip_fails_asking_for_the_complete_file(tmp_path):
    data = gzip.compress((CSV * 2000).encode())
    with pytest.raises(DeliveryError, match=r"the gzip stream is truncated or corrupt .*Fix: ask the provider to re-send the complete file"):
        ingest_file(tmp_path, spec(), "feed_20250302.csv.gz", data[: len(data) // 2])


def test_a_truncated_zip_is_not_a_readable_archive(tmp_path):
    data = zipped({"feed.csv": (CSV * 500).encode()})
    with pytest.raises(DeliveryError, match="not a readable zip archive"):
        ingest_file(tmp_path, spec(), "feed_20250302.zip", data[: len(data) // 2])


def test_an_empty_file_fails(tmp_path):
    with pytest.raises(DeliveryError, match=r"feed_20250302.csv: the file is empty"):
        ingest_file(tmp_path, spec(), "feed_20250302.csv", b"")


def test_a_line_longer_than_the_limit_fails_without_reading_it_into_memory(tmp_path):
    content = "ID,AMOUNT\n1,1.00\n" + "9" * 5000 + "\n2,2.00\n"
    with pytest.raises(DeliveryError, match=r"line 3: a line is longer than 1024 bytes"):
        ingest_file(tmp_path, spec("{max_line_bytes: 1024}"), "feed_20250302.csv", content)
    # The long line starting inside a chunk, and a file ending without a line break.
    content = "ID,AMOUNT\n" + "1,1.00\n" * 300 + "9" * 3000
    with pytest.raises(DeliveryError, match=r"line 302: a line is longer than 1024 bytes"):
        ingest_file(tmp_path, spec("{max_line_bytes: 1024}"), "feed_20250302.csv", content)


def test_pgp_encrypted_files_are_decrypted_with_the_key_from_the_environment(tmp_path, monkeypatch, request):
    import gnupg
    home = tmp_path / "sender"
    home.mkdir(mode=0o700)
    gpg = gnupg.GPG(gnupghome=str(home))
    request.addfinalizer(lambda: stop_gpg_agent(home))
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH", subkey_curve="cv25519",
                                        name_email="feeds@testco.example", no_protection=True))
    assert key.fingerprint, key.stderr
    encrypted = gpg.encrypt(CSV, key.fingerprint, armor=False, always_trust=True)
    assert encrypted.ok, encrypted.status
    monkeypatch.setenv("TESTCO_PGP_KEY", gpg.export_keys(key.fingerprint, secret=True, expect_passphrase=False))
    raw, _, _ = ingest_file(tmp_path, spec("{encryption: pgp, pgp_key_env: TESTCO_PGP_KEY}"), "feed_20250302.csv.pgp", encrypted.data)
    assert raw["ID"].to_list() == ["1", "2"]
    monkeypatch.delenv("TESTCO_PGP_KEY")
    with pytest.raises(DeliveryError, match="the PGP key variable TESTCO_PGP_KEY is not set"):
        ingest_file(tmp_path, spec("{encryption: pgp, pgp_key_env: TESTCO_PGP_KEY}"), "feed_20250302.csv.pgp", encrypted.data)
