"""Packaging a written file as the spec declares: compression, a zip archive, PGP encryption.

The inverse of `formats/unpacking.py`, in the reverse order: compress (by `packaging.compression`
or, for `auto`, by the extension left after a `.pgp` / `.gpg` / `.asc` suffix), then encrypt.
The engine packs after injecting byte-level faults, so a truncated or mis-encoded file is broken
*inside* an intact archive, as when a provider's export fails before it is zipped and encrypted;
that is what the reader's checks on the unpacked content must catch.
"""

from __future__ import annotations

import bz2
import fnmatch
import gzip
import io
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import zstandard

from carelake.formats.unpacking import stop_gpg_agent
from carelake.secrets import MissingCredential, env_secret
from carelake.spec import Packaging, SourceSpec

_EXTENSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zip": "zip", ".zst": "zstd", ".zstd": "zstd"}
_PGP_EXTENSIONS = (".pgp", ".gpg", ".asc")


def pack(spec: SourceSpec, name: str, data: bytes) -> bytes:
    """The delivered bytes of file `name` whose plain content is `data`."""
    packaging: Packaging = spec.format.packaging
    stem = name
    if packaging.encryption == "pgp" and name.lower().endswith(_PGP_EXTENSIONS):
        stem = name[: -len(PurePosixPath(name).suffix)]
    data = compress(packaging, stem, data)
    if packaging.encryption == "pgp":
        data = encrypt(packaging, name, data)
    return data


def compression_of(packaging: Packaging, name: str) -> str:
    """The compression a reader applies to file `name` (after any encryption suffix is removed)."""
    if packaging.compression != "auto":
        return packaging.compression
    return _EXTENSIONS.get(PurePosixPath(name).suffix.lower(), "none")


def compress(packaging: Packaging, name: str, data: bytes) -> bytes:
    """`data` compressed as the reader of file `name` expects (gzip, bzip2, zstd, or a one-member zip)."""
    kind = compression_of(packaging, name)
    if kind == "gzip":
        return gzip.compress(data, mtime=0)  # mtime 0: the same seed gives the same bytes
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if kind == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(zip_member_name(packaging, name), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        return out.getvalue()
    return data


def zip_member_name(packaging: Packaging, name: str) -> str:
    """The member's name: the archive's name without `.zip`, fitted into the `zip_member` glob if it has one."""
    plain = name[: -len(".zip")] if name.lower().endswith(".zip") else name
    pattern = packaging.zip_member
    if pattern is None or fnmatch.fnmatch(plain, pattern):
        return plain
    stem = PurePosixPath(plain).stem
    candidate = pattern.replace("*", stem, 1).replace("*", "").replace("?", "0")
    if fnmatch.fnmatch(candidate, pattern):
        return candidate
    raise ValueError(
        f"cannot name a zip member for {name!r} matching zip_member {pattern!r}; use a glob with '*' or '?' wildcards only"
    )


def encrypt(packaging: Packaging, name: str, data: bytes) -> bytes:
    """`data` encrypted (binary OpenPGP) to the key in the spec's `pgp_key_env`, as the provider would."""
    import gnupg  # imported here: only PGP feeds need gpg installed

    try:
        key = env_secret(packaging.pgp_key_env, "PGP key the pipeline decrypts with")
    except MissingCredential as exc:
        raise ValueError(
            f"{name}: the PGP key variable {packaging.pgp_key_env} is not set; the simulator encrypts to the key "
            "the pipeline decrypts with, so set it (as for the pipeline) before simulating"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="carelake-sim-gpg-") as home:
        Path(home).chmod(0o700)
        gpg = gnupg.GPG(gnupghome=home)
        try:
            imported = gpg.import_keys(key)
            if not imported.count:
                raise ValueError(f"{name}: the key in {packaging.pgp_key_env} could not be imported ({imported.stderr[-200:]})")
            result = gpg.encrypt(data, imported.fingerprints[0], armor=False, always_trust=True)
        finally:
            stop_gpg_agent(Path(home))
        if not result.ok:
            raise ValueError(f"{name}: PGP encryption failed ({result.status})")
        return result.data
