"""The rule registry: each kind of validation a spec can declare (a model in `carelake/spec/validations.py`)
maps to the one function that builds its check, registered beside the checker with `@rule(Model)`.

A row rule is a failing-row predicate (all row rules of a table share one scan); a table rule
evaluates a whole selection itself. Adding a rule: its model in the spec, its builder here-by-
decorator in `row_rules.py` or `table_rules.py`, and a line in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from carelake.spec import SourceSpec
from resources.selection import PartitionSelection

if TYPE_CHECKING:
    from resources.lake import DeltaLake

# A table rule's judgement of the selected partitions: (passed, metadata of plain values).
Evaluate = Callable[["DeltaLake", PartitionSelection], tuple[bool, dict]]


@dataclass(frozen=True)
class RowRule:
    """A named failing-row predicate and the columns worth showing in a sample.

    The predicate is built on first use, not when definitions load: building polars
    expressions for every rule of thousands of feeds cost ~10% of the code location's load.
    """

    name: str
    description: str
    columns: list[str]
    predicate: Callable[[], pl.Expr] = field(repr=False, compare=False)

    @cached_property
    def failing(self) -> pl.Expr:
        """True where a row FAILS the rule."""
        return self.predicate()


@dataclass(frozen=True)
class TableRule:
    """A named rule that judges a whole selection of partitions (aggregates, other partitions or feeds)."""

    name: str
    description: str
    evaluate: Evaluate = field(repr=False, compare=False)


Builder = Callable[[Any, SourceSpec], RowRule | TableRule]
_BUILDERS: dict[type, Builder] = {}


def rule(*models: type) -> Callable[[Builder], Builder]:
    """Register the builder of the check for validations of these model types."""

    def register(build: Builder) -> Builder:
        for model in models:
            if model in _BUILDERS:
                raise ValueError(f"{model.__name__} already has a check builder: {_BUILDERS[model].__qualname__}")
            _BUILDERS[model] = build
        return build

    return register


def build_rule(validation: object, spec: SourceSpec) -> RowRule | TableRule:
    """The check for one of a spec's validations."""
    try:
        build = _BUILDERS[type(validation)]
    except KeyError:
        raise TypeError(f"no check is registered for validation {type(validation).__name__}") from None
    return build(validation, spec)


def registered() -> frozenset[type]:
    """The validation models that have a check (every member of the spec's Validation union must)."""
    return frozenset(_BUILDERS)
