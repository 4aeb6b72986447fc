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
    trim: bool = Field(default=True, description="strip surrounding whitespace before typing")
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


class Packaging(StrictModel):
    """How a delivered file is wrapped: compression, archive member, encryption and the defences' limits."""

    compression: Literal["auto", "none", "gzip", "bzip2", "zip", "zstd"] = Field(
        default="auto", description="'auto' decides by file extension (.gz, .bz2, .zip, .zst)"
    )
    zip_member: str | None = Field(default=None, description="glob of the zip member(s) to read, e.g. 'claims_*.txt'")
    encryption: Literal["none", "pgp"] = "none"
    pgp_key_env: str | None = Field(
        default=None, description="environment variable holding the ASCII-armored PGP private key"
    )
    pgp_passphrase_env: str | None = None
    max_bytes: int = Field(default=64 << 30, gt=0, description="largest decoded size accepted (zip bombs)")
    max_ratio: float = Field(default=200, gt=1, description="largest decompressed / compressed size ratio accepted")
    max_line_bytes: int = Field(default=16 << 20, gt=0, description="longest line (record) accepted")

    @model_validator(mode="after")
    def _pgp_needs_key(self) -> Packaging:
        if self.encryption == "pgp" and not self.pgp_key_env:
            raise ValueError("encryption: pgp needs pgp_key_env, the environment variable holding the private key")
        return self


class DriftPolicy(StrictModel):
    """What a difference between a delivery's columns and the spec does to the partition."""

    new_columns: Literal["report", "fail"] = "report"
    missing_columns: Literal["fail", "null"] = "fail"
    retyped_columns: Literal["report", "fail"] = "report"


Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"]


class CsvFormat(StrictModel):
    kind: Literal["csv"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str | None = '"'
    header: bool = True
    encoding: Encoding = "utf-8"
    null_values: list[str] = Field(default_factory=lambda: [""])
    escape_char: str | None = Field(default=None, min_length=1, max_length=1, description="e.g. '\\' for \\\" quotes")
    comment_prefix: str | None = Field(default=None, min_length=1, description="lines starting with it are skipped")
    trailer_prefix: str | None = Field(default=None, min_length=1, description="header/trailer records starting with it are skipped")
    trailing_delimiter: bool = Field(default=False, description="every line ends with a delimiter")
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


class FixedWidthField(StrictModel):
    name: str
    start: int | None = Field(default=None, ge=1, description="1-based start position")
    length: int = Field(ge=1)
    picture: str | None = Field(default=None, description="COBOL picture, e.g. 9(7)V99 or S9(5)V9(2)")
    implied_decimals: int = Field(default=0, ge=0)
    sign: Literal["none", "leading", "trailing"] = "none"

    @model_validator(mode="after")
    def _picture(self) -> FixedWidthField:
        if self.picture is not None:
            from platform_assets.formats.picture import parse_picture

            decimals, signed = parse_picture(self.picture)
            object.__setattr__(self, "implied_decimals", decimals)
            if signed and self.sign == "none":
                object.__setattr__(self, "sign", "trailing")
        return self


class RecordTypes(StrictModel):
    """Where a line's record type is, which types are data and which are header / trailer lines."""

    start: int = Field(ge=1)
    length: int = Field(default=1, ge=1)
    detail: list[str] = Field(min_length=1)
    skip: list[str] = Field(default_factory=list)


class FixedWidthFormat(StrictModel):
    kind: Literal["fixed_width"]
    fields: list[FixedWidthField] = Field(min_length=1, description="start + length, or lengths in order")
    record_types: RecordTypes | None = None
    encoding: Encoding = "utf-8"
    null_values: list[str] = Field(default_factory=lambda: [""])
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)

    @model_validator(mode="after")
    def _starts(self) -> FixedWidthFormat:
        position, fields = 1, []
        for f in self.fields:
            fields.append(f if f.start is not None else f.model_copy(update={"start": position}))
            position = fields[-1].start + f.length
        object.__setattr__(self, "fields", fields)
        return self


class XmlFormat(StrictModel):
    kind: Literal["xml"]
    record_element: str = Field(min_length=1, description="tag of one record, e.g. 'claim'")
    paths: dict[str, str] = Field(
        default_factory=dict, description="column -> child path or '@attribute' (default: child element named like the column)"
    )
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


class JsonFormat(StrictModel):
    kind: Literal["json", "ndjson"]
    record_path: str | None = Field(default=None, description="dotted path to the record array, e.g. 'data.claims'")
    paths: dict[str, str] = Field(default_factory=dict, description="column -> dotted path inside a record")
    max_document_bytes: int = Field(default=512 << 20, gt=0, description="largest single JSON document read")
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


class ParquetFormat(StrictModel):
    kind: Literal["parquet"]
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


class SasFormat(StrictModel):
    kind: Literal["sas"]
    variant: Literal["auto", "sas7bdat", "xpt"] = "auto"
    packaging: Packaging = Field(default_factory=Packaging)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


Format = Annotated[
    CsvFormat | FixedWidthFormat | XmlFormat | JsonFormat | ParquetFormat | SasFormat, Field(discriminator="kind")
]


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


FEED_KEY = r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$"


class Regex(StrictModel):
    """Every non-null value matches `pattern` (a full match)."""

    rule: Literal["regex"]
    column: str
    pattern: str = Field(min_length=1)
    severity: Severity = Severity.error

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import polars as pl

        # Checked with the engine that runs it: polars' (Rust) regex syntax differs from Python's re.
        try:
            pl.select(pl.lit("").str.contains(value))
        except pl.exceptions.ComputeError as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression ({str(exc).splitlines()[0]})") from None
        return value


class Range(StrictModel):
    """Every non-null value lies in [min, max]; numbers or dates (YAML `2020-01-01` is a date)."""

    rule: Literal["range"]
    column: str
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    severity: Severity = Severity.error

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if self.min is not None and self.max is not None and type(self.min) is not type(self.max):
            raise ValueError("range min and max must both be numbers or both be dates")
        return self


class Length(StrictModel):
    """Every non-null value has between min and max characters."""

    rule: Literal["length"]
    column: str
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity = Severity.error


class Expression(StrictModel):
    """A SQL expression that must hold for every row (NULL passes, as in a SQL CHECK constraint)."""

    rule: Literal["expression"]
    sql: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=IDENTIFIER)
    severity: Severity = Severity.error

    @field_validator("sql")
    @classmethod
    def _parses(cls, value: str) -> str:
        import polars as pl

        try:
            pl.sql_expr(value)
        except Exception as exc:  # polars raises several error types for bad SQL
            raise ValueError(f"sql {value!r} is not a valid SQL expression ({str(exc).splitlines()[0]})") from None
        return value


class CodeFormat(StrictModel):
    """A healthcare / US code format from the rule library, checked on every non-null value."""

    rule: Literal["npi", "icd10_cm", "cpt", "hcpcs", "ndc", "us_state", "zip", "not_in_future"]
    column: str
    severity: Severity = Severity.error


class DateOrder(StrictModel):
    """Dates never go backwards along `columns`, e.g. [birth, service, paid] or [admission, discharge]."""

    rule: Literal["date_order"]
    columns: list[str] = Field(min_length=2)
    severity: Severity = Severity.error


class RowCount(StrictModel):
    """Each partition has between min and max rows."""

    rule: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity = Severity.error


class RowCountChange(StrictModel):
    """A partition's row count against the previous partition's: at most `max_drop` / `max_growth` (fractions)."""

    rule: Literal["row_count_change"]
    max_drop: float | None = Field(default=None, ge=0, le=1)
    max_growth: float | None = Field(default=None, ge=0)
    severity: Severity = Severity.warn


class UniqueAcrossPartitions(StrictModel):
    """No key of this partition appears in any other partition of the table."""

    rule: Literal["unique_across_partitions"]
    columns: list[str] = Field(min_length=1)
    severity: Severity = Severity.error


class References(StrictModel):
    """Every non-null `column` value exists in `to_column` of another feed's raw table (`provider/table`)."""

    rule: Literal["references"]
    column: str
    to: str = Field(pattern=FEED_KEY)
    to_column: str
    severity: Severity = Severity.error


class Eligible(StrictModel):
    """The member has an eligibility span in another feed covering the date (open end = still eligible)."""

    rule: Literal["eligible"]
    member_column: str
    date_column: str
    to: str = Field(pattern=FEED_KEY)
    to_member_column: str
    start_column: str
    end_column: str | None = None
    severity: Severity = Severity.error


class AfterBirth(StrictModel):
    """`date_column` is on or after the member's birth date, looked up in another feed (e.g. members)."""

    rule: Literal["after_birth"]
    member_column: str
    date_column: str
    to: str = Field(pattern=FEED_KEY)
    to_member_column: str
    birth_column: str
    severity: Severity = Severity.error


class SumEquals(StrictModel):
    """Per group (e.g. a claim), `column` summed over the rows equals `total_column` (within `tolerance`)."""

    rule: Literal["sum_equals"]
    group_by: list[str] = Field(min_length=1)
    column: str
    total_column: str
    tolerance: float = Field(default=0.005, ge=0)
    severity: Severity = Severity.error


class QuarantineRate(StrictModel):
    """At most `max` (a fraction) of a partition's delivered rows went to quarantine."""

    rule: Literal["quarantine_rate"]
    max: float = Field(ge=0, le=1)
    severity: Severity = Severity.error


Validation = Annotated[
    NotNull | Unique | AcceptedValues | Regex | Range | Length | Expression | CodeFormat | DateOrder | RowCount
    | RowCountChange | UniqueAcrossPartitions | References | Eligible | AfterBirth | SumEquals | QuarantineRate,
    Field(discriminator="rule"),
]


def validation_type_problems(columns: dict[str, ColumnType], v: object) -> list[str]:
    """Rules applied to a column of the wrong type (a date range on a string column, ...)."""
    dates, numbers = {ColumnType.date, ColumnType.datetime}, {ColumnType.integer, ColumnType.decimal, ColumnType.float}
    wanted: list[tuple[str, set[ColumnType], str]] = []
    if isinstance(v, Range):
        bound = v.min if v.min is not None else v.max
        wanted.append((v.column, dates if isinstance(bound, dt.date) else numbers, "range"))
    elif isinstance(v, DateOrder):
        wanted += [(c, dates, "date_order") for c in v.columns]
    elif isinstance(v, CodeFormat) and v.rule == "not_in_future":
        wanted.append((v.column, dates, v.rule))
    elif isinstance(v, SumEquals):
        wanted += [(v.column, numbers, "sum_equals"), (v.total_column, numbers, "sum_equals")]
    elif isinstance(v, Eligible | AfterBirth):
        wanted.append((v.date_column, dates, v.rule))
    return [
        f"validations: {rule} on {name} needs a {' / '.join(sorted(t.value for t in kinds))} column, "
        f"but {name} is {columns[name].value}"
        for name, kinds, rule in wanted
        if name in columns and columns[name] not in kinds
    ]


def validation_columns(v: object) -> list[str]:
    """The columns of this feed a validation names (not those of a referenced feed)."""
    names = []
    for attr in ("column", "member_column", "date_column", "total_column"):
        if isinstance(getattr(v, attr, None), str):
            names.append(getattr(v, attr))
    for attr in ("columns", "group_by"):
        names += getattr(v, attr, None) or []
    return names


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

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.table}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def transformed_names(self) -> dict[str, str]:
        """Source column name -> its name in the transformed layer (the common-model field, if mapped)."""
        return {c.name: c.target or c.name for c in self.columns}
