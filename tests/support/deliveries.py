"""Deliveries: a file dropped in the landing folder, its mtime set as a provider's copy keeps it, and one
file ingested into a fresh lake through the real streaming path (unpacking, reader, coercion, Delta commits)."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path

import polars as pl

from carelake.layers.raw import IngestTally, ingest
from carelake.settings import Settings
from carelake.spec import SourceSpec
from resources.lake import DeltaLake
from resources.selection import PartitionSelection

PARTITION = "2025-03-02"


def deliver(settings: Settings, folder: str, name: str, text: str) -> Path:
    path = settings.landing_root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def set_mtime(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def ingest_file(tmp_path: Path, spec: SourceSpec, name: str, content: bytes | str) -> tuple[pl.DataFrame, pl.DataFrame, IngestTally]:
    """(raw rows, quarantine rows, tally) after ingesting one delivered file of testco/feed (see `specs.spec_of`)
    for partition PARTITION."""
    path = tmp_path / "landed" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    lake = DeltaLake(root=str(tmp_path / "lake"))
    selection = PartitionSelection.of_keys([PARTITION])
    tally = ingest(spec, [(PARTITION, name, path)], selection, lake, ["raw", "testco", "feed"], ["quarantine", "testco", "feed"])
    raw = lake.read(["raw", "testco", "feed"], selection).sort("_file", "_line")
    quarantine = lake.read(["quarantine", "testco", "feed"], selection).sort("_file", "_line")
    assert tally.rows_in == raw.height + quarantine.height, "the accounting invariant"
    return raw, quarantine, tally
