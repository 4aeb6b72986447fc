"""From a landed file to plain UTF-8 files a reader can scan: decryption, decompression, zip members,
transcoding, with the defences against hostile files (bombs, path escapes, truncation, huge lines).

Everything streams in fixed-size chunks, so memory does not grow with the file. The landed file
is only read, never changed: a failure leaves it in place for a re-run.
"""

from __future__ import annotations

import bz2
import codecs
import fnmatch
import gzip
import os
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import zstandard

from carelake.errors import DeliveryError, without_values
from carelake.secrets import MissingCredential, env_secret
from carelake.spec import Packaging, SourceSpec

CHUNK = 8 << 20
_EXTENSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zip": "zip", ".zst": "zstd", ".zstd": "zstd"}
_PGP_EXTENSIONS = (".pgp", ".gpg", ".asc")


@dataclass(frozen=True)
class PlainFile:
    """A file ready for a reader, and the name used for it in errors and in the `_file` column."""

    path: Path
    name: str


def unpack(spec: SourceSpec, path: Path, name: str, workdir: Path) -> list[PlainFile]:
    """The plain files inside a landed file (usually the file itself), written under `workdir` if decoded."""
    packaging: Packaging = spec.format.packaging
    if path.stat().st_size == 0:
        raise DeliveryError(name, None, "the file is empty", "ask the provider to re-send the delivery")
    stem = name
    if packaging.encryption == "pgp":
        path = _decrypt(packaging, path, name, workdir)
        stem = name[: -len(Path(name).suffix)] if name.lower().endswith(_PGP_EXTENSIONS) else name
    compression = packaging.compression
    if compression == "auto":
        compression = _EXTENSIONS.get(Path(stem).suffix.lower(), "none")
    if compression == "zip":
        files = list(_zip_members(packaging, path, name, workdir))
    elif compression == "none":
        files = [PlainFile(path, name)]
    else:
        target = workdir / f"{len(list(workdir.iterdir()))}.plain"
        with _opener(compression, path) as source:
            _copy_limited(source, target, packaging, path.stat().st_size, name, compression)
        files = [PlainFile(target, name)]
    for plain in files:
        _check_content(spec, plain)
    return [_text_ready(spec, f, workdir) for f in files]


def _opener(compression: str, path: Path) -> BinaryIO:
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bzip2":
        return bz2.open(path, "rb")
    return _ZstdReader(path)


class _ZstdReader:
    """zstd frames decompressed chunk by chunk; unlike zstandard's stream_reader, a truncated last
    frame is an error instead of a silently short file."""

    def __init__(self, path: Path):
        self._file = path.open("rb")
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()

    def read(self, size: int) -> bytes:
        while chunk := self._file.read(size):
            out = self._decompressor.decompress(chunk)
            if self._decompressor.eof and self._decompressor.unused_data:
                rest = self._decompressor.unused_data
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
                out += self._decompressor.decompress(rest)
            if out:
                return out
        if not self._decompressor.eof:
            raise EOFError("the zstd stream ended inside a frame")
        return b""

    def __enter__(self) -> _ZstdReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _copy_limited(source: BinaryIO, target: Path, packaging: Packaging, packed: int, name: str, what: str) -> None:
    """Stream-decompress into `target`, stopping at the size and ratio limits (zip bombs)."""
    written, limit = 0, min(packaging.max_bytes, int(max(packed, 1) * packaging.max_ratio))
    try:
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise DeliveryError(
                        name, None, f"decompressing it exceeds {limit} bytes ({packaging.max_ratio:g}x its size or "
                        f"max_bytes {packaging.max_bytes}): a decompression bomb or a mis-declared file",
                        "ask the provider to check the file; raise format.packaging.max_ratio / max_bytes only if it is genuine",
                    )
                out.write(chunk)
    except (EOFError, OSError, zipfile.BadZipFile, zstandard.ZstdError) as exc:
        raise DeliveryError(
            name, None, f"the {what} stream is truncated or corrupt ({type(exc).__name__}: {without_values(exc, 120)})",
            "ask the provider to re-send the complete file",
        ) from None


def _zip_members(packaging: Packaging, path: Path, name: str, workdir: Path) -> Iterator[PlainFile]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DeliveryError(name, None, f"not a readable zip archive ({without_values(exc)})", "ask the provider to re-send the complete archive") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        for info in infos:
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if member.is_absolute() or ".." in member.parts or ":" in info.filename:
                raise DeliveryError(
                    name, None, f"zip member {info.filename!r} has a path escaping the archive folder",
                    "reject the delivery and ask the provider for an archive with plain member names",
                )
        pattern = packaging.zip_member
        chosen = [i for i in infos if pattern is None or fnmatch.fnmatch(PurePosixPath(i.filename).name, pattern)]
        if not chosen:
            raise DeliveryError(
                name, None, f"no zip member matches {pattern!r} (members: {len(infos)})",
                "set format.packaging.zip_member to a glob matching the data member(s)",
            )
        if pattern is None and len(chosen) > 1:
            raise DeliveryError(
                name, None, f"the archive has {len(chosen)} members and no zip_member pattern",
                "set format.packaging.zip_member to a glob choosing the data member(s)",
            )
        for index, info in enumerate(sorted(chosen, key=lambda i: i.filename)):
            target = workdir / f"zip{index}-{len(list(workdir.iterdir()))}.plain"
            display = f"{name}!{info.filename}"
            with archive.open(info) as source:
                _copy_limited(source, target, packaging, max(info.compress_size, 1), display, "zip member")
            yield PlainFile(target, display)


def _decrypt(packaging: Packaging, path: Path, name: str, workdir: Path) -> Path:
    import gnupg  # imported here: only PGP feeds need gpg installed

    try:
        key = env_secret(packaging.pgp_key_env, "PGP private key")
    except MissingCredential:
        raise DeliveryError(
            name, None, f"the PGP key variable {packaging.pgp_key_env} is not set",
            f"provide the private key in the environment variable {packaging.pgp_key_env}",
        ) from None
    home = workdir / "gnupg"
    home.mkdir(mode=0o700, exist_ok=True)
    gpg = gnupg.GPG(gnupghome=str(home))
    if not gpg.import_keys(key).count:
        raise DeliveryError(name, None, "the PGP key could not be imported", f"check the key in {packaging.pgp_key_env}")
    passphrase = env_secret(packaging.pgp_passphrase_env, "PGP key passphrase", required=False)
    target = workdir / "decrypted.bin"
    try:
        with path.open("rb") as source:
            result = gpg.decrypt_file(source, passphrase=passphrase, output=str(target))
    finally:
        stop_gpg_agent(home)
    if not result.ok:
        raise DeliveryError(
            name, None, f"PGP decryption failed ({result.status})",
            "check that the file was encrypted to the key in the spec's pgp_key_env and is complete",
        )
    return target


def stop_gpg_agent(home: Path) -> None:
    """Stop the gpg-agent gpg started for `home` (it would linger until it noticed its folder gone)."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


_MAGIC = {
    b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip",
    b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16",
}


def _check_content(spec: SourceSpec, plain: PlainFile) -> None:
    """Refuse empty content and content that is still compressed or UTF-16 (readers would misparse it)."""
    with plain.path.open("rb") as f:
        head = f.read(4)
    if not head:
        raise DeliveryError(plain.name, None, "the unpacked file is empty", "ask the provider to re-send the delivery")
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
    if kind is not None and spec.format.kind in ("csv", "fixed_width", "json", "ndjson"):
        raise DeliveryError(
            plain.name, None, f"the content is {kind} data, not the declared text / format",
            "declare format.packaging.compression (or the encoding) to match, or ask the provider for the agreed format",
        )


def _text_ready(spec: SourceSpec, plain: PlainFile, workdir: Path) -> PlainFile:
    """Transcode to UTF-8 and rewrite escape characters where the format needs it; check line lengths."""
    fmt = spec.format
    encoding = getattr(fmt, "encoding", None)
    escape = getattr(fmt, "escape_char", None)
    limit = fmt.packaging.max_line_bytes
    if encoding is None:
        if fmt.kind == "ndjson":
            check_line_lengths(plain, limit)
        return plain
    if encoding in ("utf-8", "utf-8-sig") and not escape:
        check_line_lengths(plain, limit)
        return plain
    target = workdir / f"text{len(list(workdir.iterdir()))}.plain"
    decoder = codecs.getincrementaldecoder(encoding if encoding != "utf-8-sig" else "utf-8-sig")(errors="strict")
    quote = getattr(fmt, "quote_char", None) or '"'
    line, carry = 1, ""
    with plain.path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while True:
            chunk = source.read(CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                bad_line = line + exc.object[: exc.start].count(b"\n")
                raise DeliveryError(
                    plain.name, bad_line, f"a byte is not valid {encoding}", "fix the file's encoding or the spec's format.encoding"
                ) from None
            if escape:
                # An escaped quote becomes the doubled quote the CSV parser understands.
                text = carry + text
                carry = text[-1:] if text.endswith(escape) and chunk else ""
                text = text[: len(text) - len(carry)]
                text = text.replace(escape + escape, "\0").replace(escape + quote, quote + quote).replace("\0", escape)
            line += text.count("\n")
            out.write(text)
            if not chunk:
                break
    result = PlainFile(target, plain.name)
    check_line_lengths(result, limit)
    return result


def check_line_lengths(plain: PlainFile, limit: int) -> None:
    """Fail on a line longer than `limit` bytes without ever holding a line in memory.

    From each line start, the last line break within the next `limit` bytes is looked up,
    reading backwards in small windows (usually one); every line in between is shorter, so
    the next probe starts after it. A 4 GB file with the default limit takes ~250 small reads
    (reading it all cost ~0.25 s per GB; a memory map cost 0.7 GB of RSS). Lines are counted only
    to report a failure.
    """
    size = plain.path.stat().st_size
    start = 0
    with plain.path.open("rb") as source:
        while size - start > limit:
            # The line starting at `start` is too long unless it ends at or before start + limit.
            last = _last_line_break(source.fileno(), start, start + limit + 1)
            if last is None:
                raise DeliveryError(
                    plain.name, _line_at(plain.path, start), f"a line is longer than {limit} bytes (max_line_bytes)",
                    "check the delimiter / line ending of the file, or raise format.packaging.max_line_bytes",
                )
            start = last + 1


def _last_line_break(fd: int, low: int, high: int) -> int | None:
    """The offset of the last b"\\n" in bytes [low, high) of a file, or None."""
    window = 1 << 16
    while high > low:
        begin = max(low, high - window)
        found = os.pread(fd, high - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found
        high = begin
    return None


def _line_at(path: Path, offset: int) -> int:
    """The number of the line starting at byte `offset` (1-based)."""
    line, done = 1, 0
    with path.open("rb") as source:
        while done < offset and (chunk := source.read(min(CHUNK, offset - done))):
            line += chunk.count(b"\n")
            done += len(chunk)
    return line
