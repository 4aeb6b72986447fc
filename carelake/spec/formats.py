"""How a delivered file is written: format models, packaging and the drift policy."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from carelake.spec.columns import StrictModel


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
            from carelake.spec.picture import parse_picture

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
        names = [f.name for f in self.fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fields: {twice} are laid out more than once; which one holds the value would be ambiguous")
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
