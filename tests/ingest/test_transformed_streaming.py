"""The transformed layer as a stream: the newest delivery of a key wins (file name, then line) whether
the duplicated keys fit one hash bucket or many, and the primary-key check counts duplicates the same way."""

from __future__ import annotations

import random

import dagster as dg
import polars as pl

from carelake.layers.duplicates import duplicated_keys
from carelake.layers.transformed import deduplicated
from carelake.names import FILE_COLUMN, LINE_COLUMN, PARTITION_COLUMN
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import feed_yaml, spec_of, write_spec

CLAIMS = feed_yaml("claims_{date:%Y%m%d}*.csv", start="2025-03-01", description="Test claims.") + """\
columns:
  - {name: CLAIM, nullable: false, target: claim_id}
  - {name: LINE, type: integer, nullable: false}
  - {name: MEMBER, phi: member_id, target: member_id}
  - {name: AMOUNT, type: decimal, precision: 10, scale: 2}
primary_key: [CLAIM, LINE]
"""


def test_the_newest_delivery_of_a_key_wins_by_file_name_then_line(settings, instance):
    write_spec(settings, "testco", "claims", CLAIMS)
    deliver(settings, "testco", "claims_20250302.csv", """
        CLAIM,LINE,MEMBER,AMOUNT
        C1,1,M1,1.00
        C2,1,M2,2.00
        C1,1,M1,1.50
        C3,1,M3,3.00
        C4,1,M4,4.00
    """)
    # Sorts after the first file: its rows are the later delivery.
    deliver(settings, "testco", "claims_20250302_b.csv", """
        CLAIM,LINE,MEMBER,AMOUNT
        C2,1,M2,2.50
        C3,2,M3,3.20
        C2,1,M2,2.75
    """)
    _, assets = feed_def(settings, "testco", "claims")
    result = materialize(assets, instance, partition="2025-03-02")
    assert result.success, failure_message(result)
    transformed = DeltaLake(root=settings.lake_root).read(["transformed", "testco", "claims"], PartitionSelection.everything())
    amounts = {(c, n): str(a) for c, n, a in transformed.select("claim_id", "LINE", "AMOUNT").rows()}
    assert amounts == {("C1", 1): "1.50", ("C2", 1): "2.75", ("C3", 1): "3.00", ("C3", 2): "3.20", ("C4", 1): "4.00"}
    events = result.asset_materializations_for_node("testco__claims")
    metadata = next(m.metadata for m in events if m.asset_key == dg.AssetKey(["transformed", "testco", "claims"]))
    assert metadata["dagster/row_count"].value == 5 and metadata["duplicates_removed"].value == 3
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "primary_key_unique")
    assert check.passed and check.metadata["duplicate_keys"].value == 0


def _raw_like(rows: int, keys: int, seed: int) -> pl.DataFrame:
    """Rows of two partitions and three files with many repeated keys (nulls among them) and a wide payload."""
    rng = random.Random(seed)
    return pl.DataFrame({
        PARTITION_COLUMN: [rng.choice(["2025-03-02", "2025-03-03"]) for _ in range(rows)],
        FILE_COLUMN: [rng.choice(["a.csv", "b.csv", "c.csv"]) for _ in range(rows)],
        LINE_COLUMN: list(range(2, rows + 2)),
        "CLAIM": [rng.choice([None, *(f"C{k}" for k in range(keys))]) for _ in range(rows)],
        "LINE": [rng.randrange(3) for _ in range(rows)],
        "MEMBER": [f"payload-{i}" for i in range(rows)],
    })


def _reference(frame: pl.DataFrame) -> set[tuple]:
    """What the layer did in memory before it streamed: sort by delivery, keep the last row per key."""
    ordered = frame.sort(PARTITION_COLUMN, FILE_COLUMN, LINE_COLUMN, maintain_order=True)
    return set(ordered.unique([PARTITION_COLUMN, "CLAIM", "LINE"], keep="last", maintain_order=True).rows())


def test_winners_are_the_same_in_one_bucket_and_in_many(tmp_path):
    spec = spec_of("""
        format: {kind: csv}
        columns:
          - {name: CLAIM}
          - {name: LINE, type: integer}
          - {name: MEMBER}
        primary_key: [CLAIM, LINE]
        """)
    frame = _raw_like(3_000, 200, seed=4)
    expected = _reference(frame)
    assert len(expected) < frame.height / 2, "the data must repeat keys for the test to mean anything"
    for per_bucket in (1_000_000, 500, 40):
        spill = tmp_path / f"spill-{per_bucket}"
        spill.mkdir()
        streams = deduplicated(spec, frame.lazy(), frame.height, spill, per_bucket=per_bucket)
        got = pl.concat([s.collect() for s in streams]).select(frame.columns)
        assert got.height == len(expected) and set(got.rows()) == expected, per_bucket
    assert len(deduplicated(spec, frame.lazy(), frame.height, spill, per_bucket=40)) > 1, "many buckets were used"


def test_duplicate_keys_are_counted_exactly_whatever_the_bucket_bound(tmp_path):
    frame = _raw_like(2_000, 300, seed=9)
    counts = frame.group_by(PARTITION_COLUMN, "CLAIM", "LINE").len().filter(pl.col("len") > 1)
    for per_bucket in (1_000_000, 100, 7):
        spill = tmp_path / f"spill-{per_bucket}"
        spill.mkdir()
        found = duplicated_keys(frame.lazy(), [PARTITION_COLUMN, "CLAIM", "LINE"], frame.height, spill, per_bucket=per_bucket)
        assert found.keys == counts.height
        assert found.frame.select(pl.col("_key_rows").sum()).collect().item() == counts["len"].sum()


def test_a_table_without_repeated_keys_has_no_duplicates_in_any_bucket(tmp_path):
    frame = pl.DataFrame({PARTITION_COLUMN: ["2025-03-02"] * 500, "K": [str(i) for i in range(500)]})
    found = duplicated_keys(frame.lazy(), [PARTITION_COLUMN, "K"], frame.height, tmp_path, per_bucket=16)
    assert found.keys == 0 and found.frame.collect().is_empty()
