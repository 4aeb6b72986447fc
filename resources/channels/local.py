"""The local folder / mounted drive channel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from carelake.spec import LocalChannel
from resources.channels.base import DeliveredFile, Listing, UnsafeChannelPath, checked_name


class LocalClient:
    """Files in a folder (not recursive); channel paths are relative to `root`, or absolute under one of
    `allowed_roots`. The folder is resolved (symlinks included) and must stay inside its root."""

    def __init__(self, root: str | Path, allowed_roots: list[str] | tuple[str, ...] = ()):
        self.root = Path(root)
        self.allowed_roots = [Path(r) for r in allowed_roots]

    def folder(self, channel: LocalChannel) -> Path:
        path = Path(channel.path)
        folder = path if path.is_absolute() else self.root / path
        roots = self.allowed_roots if path.is_absolute() else [self.root]
        resolved = folder.resolve()
        if not any(resolved.is_relative_to(root.resolve()) for root in roots):
            raise UnsafeChannelPath(
                f"local channel {channel.path!r} resolves to {resolved}, outside {[str(r) for r in roots] or 'any allowed root'}; "
                "nothing was listed or fetched. Fix: point the channel at a folder under the landing root (no symlink "
                "out of it), or add its root to local_channel_roots in sources/_platform.yaml"
            )
        return folder

    def list(self, channel: LocalChannel) -> Listing:
        listing = Listing()
        folder = self.folder(channel)
        if not folder.is_dir():
            return listing
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                st = entry.stat()
                # The inode change time too: a same-size rewrite with a preserved mtime (`cp -p`, `rsync -t`)
                # still changes it. A change that is not a new content only costs one re-hash at landing.
                fingerprint = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
                listing.add(DeliveredFile(entry.name, st.st_size, st.st_mtime, fingerprint))
        return listing.sorted()

    def fetch(self, channel: LocalChannel, name: str, dest: Path) -> Path:
        """The file itself: a local file needs no copy before it is stored in the lake."""
        return self.folder(channel) / checked_name(name)

    def put(self, channel: LocalChannel, name: str, source: Path) -> None:
        target = self.folder(channel) / checked_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.partial")
        shutil.copyfile(source, tmp)
        tmp.replace(target)  # atomic, so a sensor never lists a half-written delivery
