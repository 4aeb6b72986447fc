"""Masking datetime PHI stored as UTC (issue 15, Types): year_only, age_90plus and tokens of a datetime
are those of its date where it happened, in the column's zone, and the transformed column types follow."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import polars as pl

from carelake.coercion import polars_type
from carelake.privacy.masking import Tokens, masked, masked_type
from carelake.spec import SourceSpec
from tests.support.specs import spec_of

KEY = Tokens(b"test-key", 1, frozenset())
NEW_YEARS_EVE = dt.datetime(2020, 1, 1, 4, 30, tzinfo=dt.UTC)  # 23:30 on 2019-12-31 in New York


def apply(spec: SourceSpec, values: list, reference: dt.date = dt.date(2026, 3, 2)) -> list:
    column = spec.columns[0]
    frame = pl.DataFrame({column.name: values}, schema={column.name: polars_type(column)})
    return frame.select(masked(spec, column, pl.col(column.name), KEY, pl.lit(reference))).to_series().to_list()


def stamp(phi: str, zone: str = "America/New_York") -> SourceSpec:
    return spec_of(f"timezone: {zone}\nformat: {{kind: csv}}\ncolumns:\n  - {{name: AT, type: datetime, phi: {phi}}}\n")


def test_year_only_is_the_year_in_the_columns_zone():
    assert apply(stamp("date"), [NEW_YEARS_EVE, None]) == [2019, None]
    assert apply(stamp("date", zone="UTC"), [NEW_YEARS_EVE]) == [2020]


def test_age_90plus_of_a_birth_moment_uses_its_local_date():
    born = dt.datetime(1936, 1, 1, 3, tzinfo=dt.UTC)  # 22:00 on 1935-12-31 in New York: 90 on 2025-12-31
    assert apply(stamp("birth_date"), [born], reference=dt.date(2025, 12, 31)) == [1935]
    assert apply(stamp("birth_date", zone="UTC"), [born], reference=dt.date(2025, 12, 31)) == [1936]  # 89 in UTC


def test_a_datetime_token_is_the_token_of_its_local_iso_date():
    (token,) = apply(stamp("{category: date, masking: hash}"), [NEW_YEARS_EVE])
    assert token == hmac.new(b"test-key", b"2019-12-31", hashlib.sha256).hexdigest()[:32]


def test_transformed_types_of_datetime_columns():
    kept = spec_of("format: {kind: csv}\ncolumns:\n  - {name: AT, type: datetime, phi: {category: date, masking: none}}\n")
    assert masked_type(kept, kept.columns[0], polars_type(kept.columns[0])) == pl.Datetime("us", "UTC")
    assert apply(kept, [NEW_YEARS_EVE]) == [NEW_YEARS_EVE]
    year = stamp("date")
    assert masked_type(year, year.columns[0], polars_type(year.columns[0])) == pl.Int32()
