"""Spec building blocks: strict models, identifiers, cadences and columns (types, PHI annotations)."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from enum import StrEnum
from typing import Literal

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
    """What the transformed layer does with a PHI column (`carelake/privacy/masking.py`)."""

    hash = "hash"  # keyed HMAC-SHA256 of the normalised value: a 128-bit token (32 hex characters), equal across feeds
    redact = "redact"  # null
    year_only = "year_only"  # a date as its year
    age_90plus = "age_90plus"  # a birth date as its year, ages over 89 collapsed into 90
    zip3 = "zip3"  # the first three digits; 000 for the restricted low-population prefixes
    truncate = "truncate"  # the first `keep` characters
    none = "none"  # kept as delivered: an explicit, reviewed opt-out


# A PHI column without a `masking` gets its category's default: HIPAA Safe Harbor's treatment of that
# identifier, except that ids are tokenised (keyed hashes) so that tables still join on them.
DEFAULT_MASKING = {
    PhiCategory.name: Masking.redact,
    PhiCategory.birth_date: Masking.age_90plus,
    PhiCategory.date: Masking.year_only,
    PhiCategory.address: Masking.redact,
    PhiCategory.zip: Masking.zip3,
    PhiCategory.phone: Masking.redact,
    PhiCategory.email: Masking.redact,
    PhiCategory.ssn: Masking.redact,
    PhiCategory.member_id: Masking.hash,
    PhiCategory.mrn: Masking.hash,
    PhiCategory.account: Masking.hash,
    PhiCategory.other: Masking.hash,
}


class Phi(StrictModel):
    category: PhiCategory
    masking: Masking | None = Field(default=None, description="default: the category's (DEFAULT_MASKING)")
    keep: int | None = Field(default=None, ge=1, description="characters `truncate` keeps")

    @model_validator(mode="after")
    def _keep_with_truncate(self) -> Phi:
        if (self.masking is Masking.truncate) != (self.keep is not None):
            raise ValueError("masking: truncate needs keep (how many characters), and keep is only for truncate")
        return self

    @property
    def effective(self) -> Masking:
        return self.masking or DEFAULT_MASKING[self.category]


# strptime directives a date / datetime `input_format` may use, with the exact text each accepts:
# fixed widths, so `%Y%m%d` needs 8 digits and a sign is never part of a date.
DATE_DIRECTIVES = {
    "%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}", "%M": r"\d{2}",
    "%S": r"[0-5]\d",  # chrono reads a leap second :60 as the next minute
    "%I": r"\d{2}", "%p": r"(?:AM|PM|am|pm)", "%y": r"\d{2}", "%j": r"\d{3}", "%b": r"[A-Za-z]{3}",
    "%B": r"[A-Za-z]{3,9}", ".%f": r"\.\d{1,6}", "%.f": r"(?:\.\d{1,6})?", "%%": "%",
    "%z": r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)",  # ISO 8601: Z, +01:00, +0100 or +01 (datetime columns only)
}
# What a local time that a DST change skips or repeats becomes: quarantined (the default), or read
# with the earlier / later of its two offsets; a skipped time always reads with the offset before the change.
DstPolicy = Literal["quarantine", "earliest", "latest"]


def zone_name(value: str | None) -> str | None:
    """An IANA time zone name as given, or a ValueError saying what is allowed."""
    if value is not None and value not in _zone_names():
        raise ValueError(f"timezone {value!r} is not an IANA time zone name (e.g. UTC, America/New_York, Europe/Paris)")
    return value


@functools.cache
def _zone_names() -> frozenset[str]:
    # The machine's time zone ("localtime") differs between machines; "Factory" is no zone.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})
_DIRECTIVE = re.compile(r"\.%f|%\.f|%.")
DEFAULT_MIN_DATE = dt.date(1800, 1, 1)
DEFAULT_MAX_DATE = dt.date(2199, 12, 31)


def date_format_regex(fmt: str) -> str:
    """The anchored regex of the exact text a date / datetime format accepts (raises on an unknown directive)."""
    parts, at = [], 0
    for match in _DIRECTIVE.finditer(fmt):
        parts.append(re.escape(fmt[at : match.start()]))
        if match.group() not in DATE_DIRECTIVES:
            raise ValueError(
                f"input_format {fmt!r}: {match.group()} is not supported; use {' '.join(sorted(DATE_DIRECTIVES))} "
                "(fractions of a second as .%f or %.f, at most 6 digits)"
            )
        parts.append(DATE_DIRECTIVES[match.group()])
        at = match.end()
    return "^" + "".join(parts) + re.escape(fmt[at:]) + "$"


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
    sentinels: list[str] = Field(
        default_factory=list,
        description="values (after trimming) that stand for 'no value', e.g. '99991231' or 'NaN': read as null "
        "instead of typed (a required column then quarantines them as not_null)",
    )
    valid_from: dt.date | None = Field(
        default=None, description=f"date / datetime columns: earliest accepted date (default {DEFAULT_MIN_DATE}); earlier ones are quarantined"
    )
    valid_until: dt.date | None = Field(
        default=None, description=f"date / datetime columns: latest accepted date (default {DEFAULT_MAX_DATE}), e.g. 9999-12-31 to keep that sentinel as a date"
    )
    special_floats: Literal["reject", "accept"] = Field(
        default="reject", description="float columns: 'accept' reads inf / -inf / nan text as those values; 'reject' quarantines "
        "them (numbers outside the float range are always quarantined)"
    )
    timezone: str | None = Field(
        default=None, description="datetime columns: the IANA zone a value without Z or an offset is a local time in "
        "(default: the spec's timezone, UTC unless it says otherwise); values are stored in UTC"
    )
    dst: DstPolicy | None = Field(
        default=None, description="datetime columns: a local time a DST change skips or repeats is quarantined (rule dst), "
        "or read with the earliest / latest offset (default: the spec's dst, quarantine)"
    )
    rounding: Literal["reject", "half_even"] = Field(
        default="reject", description="decimal columns: more fraction digits than `scale` are quarantined (reject) or "
        "rounded half to even (half_even, banker's rounding)"
    )
    null_values: list[str] | None = Field(
        default=None, description="values (after trimming) read as null in this column, e.g. ['', 'NULL', 'N/A'] "
        "(default: the format's null_values, ['']); [] makes an empty value a value"
    )
    blank_value: str | None = Field(
        default=None, description="what a blank value (empty or only spaces) stands for, typed like a delivered value, "
        "e.g. 'N' for a one-character flag left blank; blanks are then never null"
    )
    strip_controls: bool = Field(
        default=False,
        description="control characters in a value (U+0000-U+001F but tab and line breaks, U+007F-U+009F; in primary-key "
        "columns also tab, line breaks, zero-width / BOM / bidi format characters and text not in Unicode NFC) are "
        "quarantined (rule control_chars / key_chars); true removes them instead (and NFC-normalises keys)",
    )

    @field_validator("sentinels")
    @classmethod
    def _sentinels(cls, values: list[str]) -> list[str]:
        if any(v == "" or v != v.strip() for v in values):
            raise ValueError("sentinels: each value must be non-empty, without surrounding spaces (values are trimmed first)")
        if len(set(values)) != len(values):
            raise ValueError("sentinels: a value is listed twice")
        return values

    @field_validator("null_values", "sentinels", mode="before")
    @classmethod
    def _quoted(cls, values: object) -> object:
        if isinstance(values, list) and None in values:
            raise ValueError("YAML reads an unquoted NULL / null / ~ as no value; quote it: ['NULL']")
        return values

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return zone_name(value)

    @property
    def date_range(self) -> tuple[dt.date, dt.date]:
        """(earliest, latest) accepted date of a date / datetime column."""
        return (self.valid_from or DEFAULT_MIN_DATE, self.valid_until or DEFAULT_MAX_DATE)

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
        for fmt in self.input_format or []:
            date_format_regex(fmt)
            if "%z" in fmt and self.type is not ColumnType.datetime:
                raise ValueError(f"input_format {fmt!r}: %z is not supported for date columns (a UTC offset needs type: datetime)")
        dated = self.type in (ColumnType.date, ColumnType.datetime)
        if (self.valid_from or self.valid_until) and not dated:
            raise ValueError(f"valid_from / valid_until are only allowed for date and datetime columns, not {self.type.value}")
        if dated and self.date_range[0] > self.date_range[1]:
            raise ValueError(f"valid_from {self.date_range[0]} is after valid_until {self.date_range[1]}")
        if self.special_floats == "accept" and self.type is not ColumnType.float:
            raise ValueError(f"special_floats is only allowed for float columns, not {self.type.value}")
        if (self.timezone or self.dst) and self.type is not ColumnType.datetime:
            raise ValueError(f"timezone / dst are only allowed for datetime columns, not {self.type.value}")
        if self.rounding != "reject" and self.type is not ColumnType.decimal:
            raise ValueError(f"rounding is only allowed for decimal columns, not {self.type.value}")
        if self.rounding == "half_even" and self.precision > 36:
            raise ValueError(f"rounding: half_even needs precision <= 36 (two guard digits), not {self.precision}")
        self._nulls_and_blanks()
        return self

    def _nulls_and_blanks(self) -> None:
        values = self.null_values or []
        if self.trim and any(v != v.strip() for v in values if v):
            raise ValueError("null_values: values are compared after trimming, so none may have surrounding spaces (or set trim: false)")
        if len(set(values)) != len(values):
            raise ValueError("null_values: a value is listed twice")
        if self.blank_value is not None:
            if "" in values:
                raise ValueError("blank_value says what a blank means, but null_values lists '' (blank is null): keep one of them")
            if self.blank_value.strip() == "":
                raise ValueError("blank_value must not itself be blank; to read blanks as null, leave it out (the default)")
