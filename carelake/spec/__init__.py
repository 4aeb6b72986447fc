"""The source spec: the single description of a feed, loaded from `sources/<provider>/<table>.yaml`.

Everything else (assets, partitions, readers, checks, the simulator) reads these models; nothing
restates a feed's schema in code. Every model forbids unknown keys so that a typo in a YAML file
is an error at load time instead of a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from carelake.spec.channels import (  # noqa: F401 - one namespace for the spec
    ENV_VAR,
    Channel,
    Delivery,
    HttpChannel,
    LocalChannel,
    S3Channel,
    SftpChannel,
)
from carelake.spec.columns import (  # noqa: F401 - one namespace for the spec
    IDENTIFIER,
    Cadence,
    Column,
    ColumnType,
    DEFAULT_MASKING,
    DstPolicy,
    Masking,
    Phi,
    PhiCategory,
    StrictModel,
    zone_name,
)
from carelake.spec.formats import (  # noqa: F401 - one namespace for the spec
    CsvFormat,
    DriftPolicy,
    Encoding,
    FixedWidthField,
    FixedWidthFormat,
    Format,
    JsonFormat,
    Packaging,
    ParquetFormat,
    RecordTypes,
    SasFormat,
    XmlFormat,
)
from carelake.spec.validations import (  # noqa: F401 - one namespace for the spec
    FEED_KEY,
    AcceptedValues,
    AfterBirth,
    CodeFormat,
    DateOrder,
    Eligible,
    Expression,
    Length,
    NotNull,
    QuarantineRate,
    Range,
    References,
    Regex,
    RowCount,
    RowCountChange,
    Severity,
    SumEquals,
    Unique,
    UniqueAcrossPartitions,
    Validation,
    validation_columns,
    validation_type_problems,
)


class Freshness(StrictModel):
    """A window's partition is due `due_hours` after the window closes (materialized, its blocking checks
    passed); later than that it is late and the feed's `freshness` check fails. Not yet done `warn_hours`
    after the window closes, the check warns. Without `due_hours`, the cadence's default applies."""

    due_hours: float | None = Field(default=None, gt=0)
    warn_hours: float | None = Field(default=None, gt=0)


# Hours after a window closes that its partition is due, when a spec does not say: about a tenth of
# the window, at least a day (a yearly file has a month; adhoc feeds have no windows and no check).
DEFAULT_DUE_HOURS = {
    Cadence.daily: 24, Cadence.weekly: 48, Cadence.monthly: 72, Cadence.quarterly: 168,
    Cadence.semiannual: 336, Cadence.yearly: 720,
}


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


class Compute(StrictModel):
    engine: Literal["polars", "spark"] = "polars"
    size: Literal["small", "medium", "large"] = "small"


class Subscriber(StrictModel):
    """Someone who hears this feed's alerts and those of every feed it waits for: a Slack channel
    (`#name`), an e-mail address, or a PagerDuty service (the variable holding its routing key)."""

    channel: Literal["slack", "email", "pagerduty"]
    target: str = Field(min_length=1)

    @model_validator(mode="after")
    def _target_fits_channel(self) -> Subscriber:
        shapes = {"slack": (r"#[a-z0-9_-]+", "a channel such as #claims-feeds"),
                  "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address"),
                  "pagerduty": (r"[A-Z_][A-Z0-9_]*", "the name of the environment variable holding the routing key")}
        pattern, what = shapes[self.channel]
        if not re.fullmatch(pattern, self.target):
            raise ValueError(f"subscribers: {self.channel} target {self.target!r} must be {what}")
        return self


class MaintenanceWindow(StrictModel):
    """A time when the feed's alerts are held (stored as suppressed, not sent): planned work, a known outage."""

    start: dt.datetime
    end: dt.datetime
    reason: str = Field(min_length=1)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, at: dt.datetime) -> dt.datetime:
        return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # a time without a zone is UTC

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError(f"alerts.maintenance: end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class FeedAlerts(StrictModel):
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    def maintenance_at(self, at: dt.datetime) -> MaintenanceWindow | None:
        return next((w for w in self.maintenance if w.start <= at < w.end), None)


class SourceSpec(StrictModel):
    provider: str = Field(pattern=IDENTIFIER)
    table: str = Field(pattern=IDENTIFIER)
    description: str = Field(min_length=1)
    owners: list[str] = Field(min_length=1)
    cadence: Cadence
    start_date: dt.date
    schema_version: int = Field(default=1, ge=1)
    delivery: Delivery
    format: Format = Field(default_factory=CsvFormat)
    columns: list[Column] = Field(min_length=1)
    timezone: str = Field(
        default="UTC", description="IANA zone of datetime values delivered without Z or an offset (a column's timezone overrides it)"
    )
    dst: DstPolicy = Field(
        default="quarantine", description="local times a DST change skips or repeats: quarantine, or read with the earliest / latest offset"
    )
    primary_key: list[str] = Field(default_factory=list)
    validations: list[Validation] = Field(default_factory=list)
    freshness: Freshness = Field(default_factory=Freshness)
    priority: Priority = Priority.normal
    compute: Compute = Field(default_factory=Compute)
    subscribers: list[Subscriber] = Field(default_factory=list)
    alerts: FeedAlerts = Field(default_factory=FeedAlerts)
    masking_profile: Literal["annotated", "safe_harbor"] = Field(
        default="annotated",
        description="annotated: each PHI column's masking (or its category's default); safe_harbor: the default for "
        "every PHI column, whatever its annotation says",
    )
    waits_for: list[str] = Field(
        default_factory=list,
        description="feeds (provider/table) whose partition for the same window must exist and pass its blocking checks first",
    )

    @field_validator("waits_for")
    @classmethod
    def _feed_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.fullmatch(FEED_KEY, key):
                raise ValueError(f"waits_for entry {key!r} must be 'provider/table'")
        return keys

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return zone_name(value)

    @field_validator("owners")
    @classmethod
    def _owners_are_dagster_owners(cls, owners: list[str]) -> list[str]:
        for owner in owners:
            if not (re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner) or re.fullmatch(r"team:[A-Za-z0-9_-]+", owner)):
                raise ValueError(f"owner {owner!r} must be an e-mail address or 'team:<name>'")
        return owners

    @model_validator(mode="after")
    def _references_resolve(self) -> SourceSpec:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"columns: duplicate column names {duplicates}")
        if any(n.startswith("_") for n in names):
            raise ValueError("columns: names starting with '_' are reserved for platform columns")
        targets = [c.target or c.name for c in self.columns]
        if len(targets) != len(set(targets)):
            raise ValueError("columns: two columns map to the same transformed name (target)")
        if self.cadence is not Cadence.adhoc and "{date:" not in self.delivery.file_pattern:
            raise ValueError(
                f"delivery.file_pattern needs a {{date:...}} placeholder for a {self.cadence.value} feed "
                "(it tells which window a file belongs to)"
            )
        known = set(names)
        referenced = list(self.primary_key)
        for v in self.validations:
            referenced += validation_columns(v)
        unknown = [c for c in referenced if c not in known]
        if unknown:
            raise ValueError(f"primary_key / validations name unknown columns {unknown}; declared: {names}")
        types = {c.name: c.type for c in self.columns}
        mistyped = [problem for v in self.validations for problem in validation_type_problems(types, v)]
        if mistyped:
            raise ValueError("; ".join(mistyped))
        return self

    @model_validator(mode="after")
    def _format_names_declared_columns(self) -> SourceSpec:
        fmt = self.format
        named = [f.name for f in fmt.fields] if isinstance(fmt, FixedWidthFormat) else list(getattr(fmt, "paths", {}))
        unknown = [n for n in named if n not in {c.name for c in self.columns}]
        if unknown:
            raise ValueError(f"format: {unknown} are not declared columns; declare them under columns or fix the name")
        if isinstance(fmt, FixedWidthFormat):
            missing = [c.name for c in self.columns if c.name not in named]
            if missing:
                raise ValueError(f"format.fields: no position for declared columns {missing}; add a start and length")
        return self

    @model_validator(mode="after")
    def _freshness_applies(self) -> SourceSpec:
        fresh = self.freshness
        if self.cadence is Cadence.adhoc:
            if fresh.due_hours is not None or fresh.warn_hours is not None:
                raise ValueError("freshness: an adhoc feed has no delivery windows, so no deadline; remove freshness "
                                 "or give the feed a cadence")
        elif fresh.warn_hours is not None and fresh.warn_hours >= self.due_hours:
            default = "" if fresh.due_hours is not None else f" (the {self.cadence.value} default)"
            raise ValueError(f"freshness.warn_hours ({fresh.warn_hours:g}) must be less than due_hours "
                             f"({self.due_hours:g}{default}): a warning comes before the deadline")
        return self

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.table}"

    @property
    def due_hours(self) -> float:
        """Hours after a window closes that its partition is due: `freshness.due_hours` or the cadence's
        default (`DEFAULT_DUE_HOURS`). Adhoc feeds have no windows: 0."""
        if self.freshness.due_hours is not None:
            return self.freshness.due_hours
        return DEFAULT_DUE_HOURS.get(self.cadence, 0)

    def masking_of(self, column: Column) -> Masking | None:
        """What the transformed layer does with a column (None: not PHI, kept as delivered)."""
        if column.phi is None:
            return None
        return DEFAULT_MASKING[column.phi.category] if self.masking_profile == "safe_harbor" else column.phi.effective

    def timezone_of(self, column: Column) -> str:
        """The zone a datetime column's values without an offset are local times in."""
        return column.timezone or self.timezone

    def dst_of(self, column: Column) -> DstPolicy:
        return column.dst or self.dst

    def null_values_of(self, column: Column) -> list[str]:
        """What reads as null in a column (compared after trimming): its own null_values, else the format's
        (`['']` for formats without them); never '' when the column says what a blank means."""
        values = column.null_values if column.null_values is not None else getattr(self.format, "null_values", [""])
        return [v for v in values if v != ""] if column.blank_value is not None else list(values)

    @property
    def declares_nulls(self) -> bool:
        """A column says itself what is null or what a blank means (readers then keep blanks for typing)."""
        return any(c.null_values is not None or c.blank_value is not None for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def transformed_names(self) -> dict[str, str]:
        """Source column name -> its name in the transformed layer (the common-model field, if mapped)."""
        return {c.name: c.target or c.name for c in self.columns}
