"""What each layer does for a set of partitions: landed copies files, raw types them, transformed maps
them to the common model. Each stage reads its input from the lake and writes its output back in one
atomic commit per table, and returns each partition's numbers, reported as that partition's Dagster
metadata (plain values: the code location turns them into Dagster's). One module per layer; none of
them imports Dagster."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayerResult:
    """`rows` written in all; `partitions`: each partition's metadata, its own row count under `rows`.
    `changed=False`: nothing new (an identical re-delivery), so nothing downstream needs to run."""

    rows: int
    partitions: dict[str, dict] = field(default_factory=dict)
    changed: bool = True
