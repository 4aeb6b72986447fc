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
