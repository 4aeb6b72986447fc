"""The local folder / mounted drive channel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from carelake.spec import LocalChannel
from resources.channels.base import DeliveredFile, Listing, checked_name


class LocalClient:
    """Files in a folder (not recursive); channel paths are relative to `root`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def folder(self, channel: LocalChannel) -> Path:
        path = Path(channel.path)
        return path if path.is_absolute() else self.root / path

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
                listing.add(DeliveredFile(entry.name, st.st_size, st.st_mtime, f"{st.st_size}:{st.st_mtime_ns}"))
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
