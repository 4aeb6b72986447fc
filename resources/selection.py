"""Which partitions of a table to read or replace: the lake's one selection vocabulary, as a Delta
predicate, a polars expression and a membership test (no Dagster: the engine builds them too)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from carelake.names import PARTITION_COLUMN


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class PartitionSelection:
    """Which partitions of a table to read or replace: a key range [start, end) or a set of keys.

    `PartitionSelection.everything()` selects the whole table (an unpartitioned read).
    """

    start: str | None = None
    end: str | None = None
    keys: tuple[str, ...] | None = None

    @classmethod
    def everything(cls) -> PartitionSelection:
        return cls()

    @classmethod
    def key_range(cls, start: str, end: str) -> PartitionSelection:
        return cls(start=start, end=end)

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> PartitionSelection:
        return cls(keys=tuple(sorted(set(keys))))

    @property
    def is_everything(self) -> bool:
        return self.start is None and self.end is None and self.keys is None

    def predicate(self) -> str:
        """The Delta (SQL) predicate selecting these partitions."""
        if self.keys is not None:
            return f"{PARTITION_COLUMN} IN ({', '.join(_quote(k) for k in self.keys)})" if self.keys else "1 = 0"
        clauses = []
        if self.start is not None:
            clauses.append(f"{PARTITION_COLUMN} >= {_quote(self.start)}")
        if self.end is not None:
            clauses.append(f"{PARTITION_COLUMN} < {_quote(self.end)}")
        return " AND ".join(clauses) or "1 = 1"

    def expr(self) -> pl.Expr:
        """The same selection as a polars expression."""
        col = pl.col(PARTITION_COLUMN)
        if self.keys is not None:
            return col.is_in(list(self.keys))
        out = pl.lit(True)
        if self.start is not None:
            out &= col >= self.start
        if self.end is not None:
            out &= col < self.end
        return out

    def contains(self, key: str) -> bool:
        """Whether a partition key is selected."""
        if self.keys is not None:
            return key in self.keys
        return (self.start is None or key >= self.start) and (self.end is None or key < self.end)

    def __str__(self) -> str:
        if self.keys is not None:
            return f"partitions {list(self.keys)}"
        if self.is_everything:
            return "all partitions"
        return f"partitions [{self.start}, {self.end})"
