"""Helpers for format and ingestion tests: a spec from a YAML snippet, and one file ingested into a
fresh lake through the real streaming path (unpacking, reader, coercion, Delta commits)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import yaml

from carelake.layers.raw import IngestTally, ingest
from carelake.spec import SourceSpec
from resources.lake import DeltaLake
from resources.selection import PartitionSelection

PARTITION = "2025-03-02"

BASE = """
provider: testco
table: feed
description: A test feed.
owners: [team:qa]
cadence: daily
start_date: 2025-03-01
delivery:
  channel: {kind: local, path: testco}
  file_pattern: "feed_{date:%Y%m%d}.*"
"""


def spec_of(*parts: str) -> SourceSpec:
    """A SourceSpec from the format / columns part of a YAML file (the rest is a fixed daily feed)."""
    return SourceSpec.model_validate(yaml.safe_load(BASE + "".join(textwrap.dedent(p) for p in parts)))


def ingest_file(tmp_path: Path, spec: SourceSpec, name: str, content: bytes | str) -> tuple[pl.DataFrame, pl.DataFrame, IngestTally]:
    """(raw rows, quarantine rows, tally) after ingesting one delivered file for one partition."""
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
