"""Delivery channels: where providers drop files. The local folder channel lives here; S3, SFTP and
HTTP channels follow the same `list_files` / `open` seam."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from platform_assets.spec import LocalChannel


class LocalLanding(dg.ConfigurableResource):
    """A landing folder (local disk or a mounted drive); channel paths are relative to `root`."""

    root: str = Field(description="folder providers deliver into")

    def folder(self, channel: LocalChannel) -> Path:
        path = Path(channel.path)
        return path if path.is_absolute() else Path(self.root) / path

    def list_files(self, channel: LocalChannel) -> list[Path]:
        """Delivered files in the channel's folder (not recursive), sorted by name."""
        folder = self.folder(channel)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
