"""Schema drift: how a delivery's columns differ from the spec, and whether that fails the partition."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from carelake.errors import DeliveryError
from carelake.spec import ColumnType, DriftPolicy, SourceSpec

# Source types each declared type can be read from without a change of meaning.
_COMPATIBLE = {
    ColumnType.string: ("str", "cat", "enum", "int", "uint"),
    ColumnType.integer: ("int", "uint", "str"),
    ColumnType.decimal: ("decimal", "int", "uint", "float", "str"),
    ColumnType.float: ("float", "decimal", "int", "uint", "str"),
    ColumnType.boolean: ("bool", "str", "int"),
    ColumnType.date: ("date", "str", "datetime"),
    ColumnType.datetime: ("datetime", "str", "date"),
}


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class SchemaDrift:
    """Columns new in the file, missing from it, apparently renamed, or of a different type than declared."""

    new: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    retyped: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.new or self.missing or self.renamed or self.retyped)

    def as_metadata(self) -> dict:
        """Column names and types only: no values."""
        return {k: v for k, v in vars(self).items() if v}


def compare(spec: SourceSpec, found: list[str], found_types: dict[str, str] | None = None) -> SchemaDrift:
    """The diff of a file's columns (and, for typed formats, their polars type names) against the spec."""
    declared = [c.name for c in spec.columns]
    new = [c for c in found if c not in declared and c]
    missing = [c for c in declared if c not in found]
    renamed = {}
    for old in list(missing):
        match = next((n for n in new if _normal(n) == _normal(old)), None)
        if match is not None:
            renamed[old] = match
            missing.remove(old)
            new.remove(match)
    retyped = {}
    for column in spec.columns:
        source = (found_types or {}).get(column.name)
        if source is not None and not source.lower().startswith(_COMPATIBLE[column.type]):
            retyped[column.name] = f"{column.type.value} <- {source}"
    return SchemaDrift(new, missing, renamed, retyped)


def enforce(spec: SourceSpec, drift: SchemaDrift, name: str) -> list[str]:
    """Raise if the spec's drift policy fails on this drift; returns the declared columns to fill with nulls."""
    policy: DriftPolicy = spec.format.drift
    absent = drift.missing + list(drift.renamed)
    problems = []
    if absent and policy.missing_columns == "fail":
        where = "header" if getattr(spec.format, "header", False) else "file"
        problems.append(f"the {where} lacks declared columns {absent}" + (f" (renamed? {drift.renamed})" if drift.renamed else ""))
    if drift.new and policy.new_columns == "fail":
        problems.append(f"undeclared columns {drift.new} appeared")
    if drift.retyped and policy.retyped_columns == "fail":
        problems.append(f"columns changed type {drift.retyped}")
    if problems:
        raise DeliveryError(
            name, 1 if getattr(spec.format, "header", False) else None, "; ".join(problems) + " (schema drift)",
            f"ask the provider to re-send with the columns of sources/{spec.key}.yaml, "
            "or change the spec (bump schema_version) or its format.drift policy",
        )
    return absent
