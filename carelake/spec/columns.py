"""Spec building blocks: strict models, identifiers, cadences and columns (types, PHI annotations)."""

from __future__ import annotations

from enum import StrEnum

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

    hash = "hash"  # keyed HMAC-SHA256 of the normalised value: a 32-byte token, equal across feeds
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
