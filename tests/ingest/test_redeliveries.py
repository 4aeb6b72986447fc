"""The provider's newest delivery is what raw holds: a revert to earlier bytes is a new version, and a
same-size rewrite that keeps its modification time is still seen."""

from __future__ import annotations

import os

from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import write_spec

SPEC = """
description: Test claims.
owners: [team:qa]
cadence: daily
start_date: 2026-03-01
delivery:
  channel: {kind: local, path: testco}
  file_pattern: "claims_{date:%Y%m%d}.csv"
columns:
  - {name: CLAIM}
  - {name: AMOUNT, type: integer}
"""
DAY = "2026-03-02"


def raw_and_versions(settings) -> tuple[list[tuple[str, int]], list[int]]:
    lake, everything = DeltaLake(root=settings.lake_root), PartitionSelection.everything()
    raw = lake.read(["raw", "testco", "claims"], everything).sort("CLAIM")
    landed = lake.read(["landed", "testco", "claims"], everything)
    return list(raw.select("CLAIM", "AMOUNT").iter_rows()), sorted(landed["version"])


def test_a_delivery_that_reverts_to_earlier_bytes_is_the_newest_version(settings, instance):
    write_spec(settings, "testco", "claims", SPEC)
    _, assets = feed_def(settings, "testco", "claims")
    for content in ("CLAIM,AMOUNT\nC1,10\n", "CLAIM,AMOUNT\nC1,99\n", "CLAIM,AMOUNT\nC1,10\n"):  # A, B, then A again
        deliver(settings, "testco", "claims_20260302.csv", content)
        result = materialize(assets, instance, partition=DAY)
        assert result.success, failure_message(result)
    assert raw_and_versions(settings) == ([("C1", 10)], [1, 2, 3])


def test_a_same_size_rewrite_with_a_preserved_mtime_is_a_new_version(settings, instance):
    write_spec(settings, "testco", "claims", SPEC)
    _, assets = feed_def(settings, "testco", "claims")
    path = deliver(settings, "testco", "claims_20260302.csv", "CLAIM,AMOUNT\nC1,10\n")
    assert materialize(assets, instance, partition=DAY).success
    before = path.stat()
    path.write_text("CLAIM,AMOUNT\nC1,99\n")  # same size, as `cp -p` / `rsync -t` would leave it
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    result = materialize(assets, instance, partition=DAY)
    assert result.success, failure_message(result)
    assert raw_and_versions(settings) == ([("C1", 99)], [1, 2])
