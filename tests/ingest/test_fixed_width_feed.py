"""Non-CSV feeds through real Dagster runs: compressed fixed-width, the accounting check, failures."""

from __future__ import annotations

import gzip

import dagster as dg

from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import feed_yaml, write_spec

SPEC = feed_yaml("claims_{date:%Y%m%d}.dat.gz", start="2025-03-01", folder="fwco",
                 description="Test claims as gzipped fixed-width text.") + """\
format:
  kind: fixed_width
  record_types: {start: 1, detail: [D], skip: [H, T]}
  fields:
    - {name: CLAIM, start: 2, length: 4}
    - {name: MEMBER, start: 6, length: 4}
    - {name: AMOUNT, start: 10, length: 7, picture: "S9(4)V99"}
columns:
  - {name: CLAIM, nullable: false, target: claim_id}
  - {name: MEMBER, phi: member_id}
  - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
primary_key: [CLAIM]
"""

CONTENT = "H20250302\nDC001M001001050+\nDC002M002000010-\nDC003M003ABCDEF+\nT3\n"


def _setup(settings, content: bytes):
    write_spec(settings, "fwco", "claims", SPEC)
    path = settings.landing_root / "fwco" / "claims_20250302.dat.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    _, assets = feed_def(settings, "fwco", "claims")
    return assets, DeltaLake(root=settings.lake_root)


def test_a_gzipped_fixed_width_feed_reaches_raw_and_the_accounting_check_passes(settings, instance):
    assets, lake = _setup(settings, gzip.compress(CONTENT.encode()))
    result = materialize(assets, instance, partition="2025-03-02")
    assert result.success, failure_message(result)
    raw = lake.read(["raw", "fwco", "claims"], PartitionSelection.everything()).sort("_line")
    assert [str(a) for a in raw["AMOUNT"]] == ["10.50", "-0.10"]
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "rows_accounted_for")
    assert check.passed and check.metadata["rows_in"].value == 3 and check.metadata["rows_quarantined"].value == 1
    metadata = next(
        m.metadata for m in result.asset_materializations_for_node("fwco__claims") if m.asset_key == dg.AssetKey(["raw", "fwco", "claims"])
    )
    assert metadata["rows_in"].value == 3 == metadata["rows_raw"].value + metadata["rows_quarantined"].value
    assert metadata["dagster/row_count"].value == 2 and metadata["files"].value == 1
    assert metadata["quarantine_sample_masked"].value == [
        {"file": "claims_20250302.dat.gz", "line": 4, "column": "AMOUNT", "rule": "type", "value": "ABCDEF+"}
    ]


def test_a_truncated_archive_fails_the_partition_naming_the_file_and_keeps_it_landed(settings, instance):
    data = gzip.compress((CONTENT * 200).encode())
    assets, lake = _setup(settings, data[: len(data) - 20])
    result = materialize(assets, instance, partition="2025-03-02")
    assert not result.success
    assert "claims_20250302.dat.gz: the gzip stream is truncated or corrupt" in failure_message(result)
    assert lake.read(["landed", "fwco", "claims"], PartitionSelection.everything())["file_name"].to_list() == ["claims_20250302.dat.gz"]
    assert not lake.exists(["raw", "fwco", "claims"])
