"""Every delivery channel kind against a real server on loopback: list, fetch, deliver, refuse unsafe names."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from carelake.spec import HttpChannel, LocalChannel, S3Channel, SftpChannel
from resources.channels import Channels, MissingCredential, UnsafeFileName


def roundtrip(channels: Channels, channel, tmp_path: Path) -> None:  # noqa: ANN001
    source = tmp_path / "payload.csv"
    source.write_bytes(b"A,B\n1,2\n")
    channels.put(channel, "claims_20260101.csv", source)
    channels.put(channel, "claims_20260102.csv", source)
    listing = channels.list(channel)
    assert [f.name for f in listing.files] == ["claims_20260101.csv", "claims_20260102.csv"]
    assert all(f.size == 8 and f.fingerprint and f.modified > 0 for f in listing.files)
    out = tmp_path / "out"
    out.mkdir()
    assert channels.fetch(channel, "claims_20260102.csv", out).read_bytes() == b"A,B\n1,2\n"
    with pytest.raises(UnsafeFileName, match="escape its folder"):
        channels.fetch(channel, "../../etc/passwd", out)


def test_local_folder_channel_lists_fetches_and_delivers(tmp_path):
    roundtrip(Channels(root=str(tmp_path / "landing")), LocalChannel(path="acme"), tmp_path)


def test_s3_channel_against_seaweedfs(s3_server, s3_env, tmp_path):
    roundtrip(Channels(root=str(tmp_path)), S3Channel(**s3_server.channel(s3_server.new_bucket(), prefix="acme/")), tmp_path)


def test_s3_channel_needs_its_credential_environment_variables(s3_server, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_S3_KEY", raising=False)
    with pytest.raises(MissingCredential, match="TEST_S3_KEY"):
        Channels(root=str(tmp_path)).list(S3Channel(**s3_server.channel("whatever", prefix="acme/")))


@pytest.mark.parametrize("auth", ["password", "key"])
def test_sftp_channel_with_password_or_key_auth(sftp_server, sftp_env, tmp_path, auth):
    roundtrip(Channels(root=str(tmp_path)), SftpChannel(**sftp_server.channel(sftp_server.new_folder(), auth)), tmp_path)


def test_sftp_channel_refuses_an_unknown_host_key(sftp_server, sftp_env, tmp_path, monkeypatch):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{sftp_server.port} {other}\n")
    monkeypatch.setenv("TEST_SFTP_KNOWN_HOSTS", str(tmp_path / "known_hosts"))
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        Channels(root=str(tmp_path)).list(SftpChannel(**sftp_server.channel(sftp_server.new_folder(), "password")))


def test_http_api_channel_pages_through_the_listing_with_a_token(http_api, http_env, tmp_path):
    channel = HttpChannel(**http_api.channel(http_api.new_folder(), page_size=1))
    before = len(http_api.requests)  # the server is the session's: earlier tests in this worker used it too
    roundtrip(Channels(root=str(tmp_path)), channel, tmp_path)
    assert sum("page=" in r for r in http_api.requests[before:]) == 2  # two files, one per page


def test_a_listed_name_that_escapes_its_folder_is_rejected_not_fetched(http_api, http_env, tmp_path):
    url = http_api.new_folder()
    http_api.extra_names[url.rsplit("/", 1)[1]] = ["../../etc/passwd"]
    listing = Channels(root=str(tmp_path)).list(HttpChannel(**http_api.channel(url)))
    assert listing.files == [] and listing.rejected == ["../../etc/passwd"]
