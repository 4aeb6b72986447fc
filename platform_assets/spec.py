"""The source spec: the single description of a feed, loaded from `sources/<provider>/<table>.yaml`.

Everything else (assets, partitions, readers, checks, the simulator) reads these models; nothing
restates a feed's schema in code. Every model forbids unknown keys so that a typo in a YAML file
is an error at load time instead of a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cadence(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    semiannual = "semiannual"
    yearly = "yearly"
    adhoc = "adhoc"


class ColumnType(StrEnum):
    string = "string"
    integer = "integer"
    decimal = "decimal"
    float = "float"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"


class PhiCategory(StrEnum):
    """HIPAA identifier kinds a column can carry; masking in the transformed layer keys off these."""

    name = "name"
    birth_date = "birth_date"
    date = "date"
    address = "address"
    zip = "zip"
    phone = "phone"
    email = "email"
    ssn = "ssn"
    member_id = "member_id"
    mrn = "mrn"
    account = "account"
    other = "other"


class Masking(StrEnum):
    hash = "hash"
    redact = "redact"
    year_only = "year_only"
    zip3 = "zip3"
    none = "none"


class Phi(StrictModel):
    category: PhiCategory
    masking: Masking = Masking.hash


class Column(StrictModel):
    name: str = Field(min_length=1)
    type: ColumnType = ColumnType.string
    nullable: bool = True
    input_format: list[str] | None = Field(
        default=None, description="strptime formats tried in order for date / datetime columns"
    )
    true_values: list[str] = Field(default_factory=lambda: ["1", "Y", "y", "true", "TRUE", "True", "T"])
    false_values: list[str] = Field(default_factory=lambda: ["0", "N", "n", "false", "FALSE", "False", "F"])
    precision: int = Field(default=18, ge=1, le=38)
    scale: int = Field(default=2, ge=0, le=38)
    phi: Phi | None = None
    target: str | None = Field(default=None, pattern=IDENTIFIER)
    semantic: str | None = Field(
        default=None, description="what the values are, for the simulator: a Faker provider or a platform generator"
    )
    description: str = ""

    @field_validator("input_format", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("phi", mode="before")
    @classmethod
    def _phi_shorthand(cls, value: object) -> object:
        return {"category": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _formats_only_for_dates(self) -> Column:
        if self.input_format and self.type not in (ColumnType.date, ColumnType.datetime):
            raise ValueError(f"input_format is only allowed for date and datetime columns, not {self.type.value}")
        if self.scale > self.precision:
            raise ValueError(f"scale {self.scale} is larger than precision {self.precision}")
        return self


class LocalChannel(StrictModel):
    kind: Literal["local"] = "local"
    path: str = Field(description="folder relative to the landing root (or absolute)")


ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"


class S3Channel(StrictModel):
    """A bucket (any S3-compatible endpoint); credentials come from the named environment variables."""

    kind: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3)
    prefix: str = Field(default="", description="folder inside the bucket, e.g. acme/claims/")
    endpoint_url: str | None = Field(default=None, description="for S3-compatible stores; default: AWS")
    region: str = "us-east-1"
    access_key_env: str = Field(default="AWS_ACCESS_KEY_ID", pattern=ENV_VAR)
    secret_key_env: str = Field(default="AWS_SECRET_ACCESS_KEY", pattern=ENV_VAR)


class SftpChannel(StrictModel):
    """A folder on an SFTP server; the host key is always checked against a known_hosts file."""

    kind: Literal["sftp"] = "sftp"
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    path: str = Field(min_length=1, description="folder on the server")
    user_env: str = Field(pattern=ENV_VAR)
    password_env: str | None = Field(default=None, pattern=ENV_VAR)
    key_path_env: str | None = Field(default=None, pattern=ENV_VAR, description="env var holding a private key file path")
    known_hosts_env: str = Field(pattern=ENV_VAR, description="env var holding a known_hosts file path")

    @model_validator(mode="after")
    def _some_credential(self) -> SftpChannel:
        if not (self.password_env or self.key_path_env):
            raise ValueError("an sftp channel needs password_env or key_path_env (names of environment variables)")
        return self


class HttpChannel(StrictModel):
    """An HTTP API listing deliveries as paged JSON, behind a bearer token."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="listing endpoint; files are downloaded from <url>/<name>")
    token_env: str = Field(pattern=ENV_VAR)
    page_size: int = Field(default=500, ge=1, le=10_000)


Channel = Annotated[LocalChannel | S3Channel | SftpChannel | HttpChannel, Field(discriminator="kind")]


class Delivery(StrictModel):
    channel: Channel
    file_pattern: str = Field(
        description="file name with `{date:<strftime>}` placeholders and `*` wildcards, e.g. members_{date:%Y%m%d}.csv"
    )

    @field_validator("file_pattern")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or ".." in value:
            raise ValueError("file_pattern is a file name, without folders or '..'")
        from platform_assets.patterns import compile_pattern

        compile_pattern(value)
        return value


class CsvFormat(StrictModel):
    kind: Literal["csv"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str | None = '"'
    header: bool = True
    encoding: Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"] = "utf-8"
    null_values: list[str] = Field(default_factory=lambda: [""])


Format = Annotated[CsvFormat, Field(discriminator="kind")]


class Severity(StrEnum):
    error = "error"
    warn = "warn"


class NotNull(StrictModel):
    rule: Literal["not_null"]
    column: str
    severity: Severity = Severity.error


class Unique(StrictModel):
    rule: Literal["unique"]
    columns: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


class AcceptedValues(StrictModel):
    rule: Literal["accepted_values"]
    column: str
    values: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


Validation = Annotated[NotNull | Unique | AcceptedValues, Field(discriminator="rule")]


class Freshness(StrictModel):
    """A window's delivery is due `due_hours` after the window closes; later than that it is late."""

    due_hours: float = Field(default=24, gt=0)
    warn_hours: float | None = Field(default=None, gt=0)


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


class Compute(StrictModel):
    engine: Literal["polars", "spark"] = "polars"
    size: Literal["small", "medium", "large"] = "small"


class Subscriber(StrictModel):
    channel: Literal["slack", "email", "pagerduty"]
    target: str = Field(min_length=1)


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
    primary_key: list[str] = Field(default_factory=list)
    validations: list[Validation] = Field(default_factory=list)
    freshness: Freshness = Field(default_factory=Freshness)
    priority: Priority = Priority.normal
    compute: Compute = Field(default_factory=Compute)
    subscribers: list[Subscriber] = Field(default_factory=list)

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
            referenced += v.columns if isinstance(v, Unique) else [v.column]
        unknown = [c for c in referenced if c not in known]
        if unknown:
            raise ValueError(f"primary_key / validations name unknown columns {unknown}; declared: {names}")
        return self

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.table}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def transformed_names(self) -> dict[str, str]:
        """Source column name -> its name in the transformed layer (the common-model field, if mapped)."""
        return {c.name: c.target or c.name for c in self.columns}
