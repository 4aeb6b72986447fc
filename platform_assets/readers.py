"""Reading a landed file into a frame of strings: kept as the entry point other modules import;
the readers themselves live in `platform_assets/formats/`, one module per format."""

from __future__ import annotations

from platform_assets.formats import FILE_COLUMN, LINE_COLUMN, count_records, open_delivery

__all__ = ["FILE_COLUMN", "LINE_COLUMN", "count_records", "open_delivery"]
