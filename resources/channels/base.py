"""What every delivery channel shares: a listed file, safe file names, credentials from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field


class UnsafeFileName(ValueError):
    """A delivered file name that could escape its folder (`../x`, `a/b`, `.`)."""


class UnsafeChannelPath(ValueError):
    """A local channel folder that resolves (symlinks included) outside the roots it may use."""


@dataclass(frozen=True)
class DeliveredFile:
    """One file in a channel. `fingerprint` changes when the content may have changed (size, mtime and ctime,
    an ETag or a checksum); `modified` is the delivery time as a UTC epoch timestamp."""

    name: str
    size: int
    modified: float
    fingerprint: str


@dataclass
class Listing:
    """A channel's files (safe names only, sorted) and the names it refused."""

    files: list[DeliveredFile] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def add(self, file: DeliveredFile) -> None:
        try:
            checked_name(file.name)
        except UnsafeFileName:
            self.rejected.append(file.name)
        else:
            self.files.append(file)

    def sorted(self) -> Listing:
        self.files.sort(key=lambda f: f.name)
        return self


def checked_name(name: str) -> str:
    """The name itself if it is a plain file name; raises UnsafeFileName otherwise."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or name.startswith(".."):
        raise UnsafeFileName(
            f"delivered file name {name!r} is not a plain file name (it could escape its folder); "
            "it was not fetched. Fix: ask the provider to deliver files without folders or '..' in their names"
        )
    return name
