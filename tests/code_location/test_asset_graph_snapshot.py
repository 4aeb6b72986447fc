"""The asset graph of the repository's feeds, as a reviewable snapshot: any change to assets,
partitions, checks, automation or columns shows up as a diff of tests/code_location/snapshots/asset_graph.json.

Regenerate after an intended change: `CARELAKE_UPDATE_SNAPSHOTS=1 make test`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def describe(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path):
        node = graph.get(key)
        partitions = node.partitions_def
        schema = node.metadata.get("dagster/column_schema")
        out[key.to_user_string()] = {
            "group": node.group_name,
            "owners": list(node.owners),
            "kinds": sorted(node.kinds),
            "partitions": type(partitions).__name__ if partitions else None,
            "partition_start": getattr(partitions, "start", None) and partitions.start.strftime("%Y-%m-%d"),
            "cron": getattr(partitions, "cron_schedule", None),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "automation": _label(node.automation_condition),
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys
            ),
            "columns": [c.name for c in schema.columns] if schema else [],
        }
    return out


def _label(condition: dg.AutomationCondition | None) -> str | None:
    if condition is None:
        return None
    return condition.get_label() or f" {condition.name} ".join(_label(c) for c in condition.children)


def test_asset_graph_matches_the_reviewed_snapshot():
    from platform_assets.definitions import defs

    current = describe(defs())
    if os.environ.get("CARELAKE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "the asset graph changed; review the diff and regenerate with CARELAKE_UPDATE_SNAPSHOTS=1"
    )
