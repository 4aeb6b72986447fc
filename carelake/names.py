"""The platform's names, each written once: layers and table keys, the platform columns every table
carries, and the run tags runs are filtered by. Dagster asset keys are built from `table_key`."""

from __future__ import annotations

from typing import Protocol

# The layers of a feed, in the order data flows through them; quarantine sits beside raw.
LANDED, RAW, TRANSFORMED = "landed", "raw", "transformed"
LAYERS = (LANDED, RAW, TRANSFORMED)
QUARANTINE = "quarantine"

# Columns every table carries: the Dagster partition key of its rows, and where each row came from.
PARTITION_COLUMN = "_partition"
FILE_COLUMN = "_file"
LINE_COLUMN = "_line"
# Quarantine's `column` for a record that could not be split into fields (its `value` is the whole record).
RECORD_COLUMN = "_record"


class _Feed(Protocol):
    provider: str
    table: str


def table_key(layer: str, feed: _Feed | str) -> tuple[str, ...]:
    """The key of a feed's table in a layer (`("raw", "acme_health", "claims")`): its path in the lake
    and its Dagster asset key. `feed` is a spec or its `provider/table` string."""
    provider, table = feed.split("/") if isinstance(feed, str) else (feed.provider, feed.table)
    return (layer, provider, table)


def deliveries_partitions_name(feed: _Feed) -> str:
    """The name of an adhoc feed's dynamic partitions (one partition per delivered file)."""
    return f"{feed.provider}__{feed.table}__deliveries"


# The asset check on every raw and transformed table that says whether its latest due window is in.
FRESHNESS_CHECK = "freshness"


class RunTags:
    """Run tag names (all under `carelake/`), set by the arrival sensors and read by the feed op."""

    ARRIVAL = "carelake/arrival"  # started by an arrival sensor: stop after landed if nothing changed
    FEED = "carelake/feed"
    FILES = "carelake/files"
    LATE = "carelake/late"
    LATE_HOURS = "carelake/late_hours"
    EXPECTED_AT = "carelake/expected_at"
