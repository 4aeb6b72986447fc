"""Vectorised value generators: a column's `semantic` hint (or its type) -> a polars Series of strings.

Platform generators cover what Faker lacks or gets wrong for health data (member ids shared by a
provider's tables, NPIs with a valid check digit, ICD-10-CM, CPT/HCPCS, NDC, money). Any other
hint naming a Faker provider (`company`, `city`, ...) samples a vocabulary drawn from Faker, so
millions of rows cost one vectorised gather instead of millions of Faker calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from faker import Faker

from carelake.spec import Column, ColumnType, SourceSpec

ICD10 = ["E11.9", "I10", "J45.909", "M54.5", "Z00.00", "E78.5", "F41.1", "K21.9", "N39.0", "R51.9", "J06.9", "M25.561"]
CPT = ["99213", "99214", "99203", "80053", "85025", "93000", "71046", "G0439", "J3420", "36415", "A0428", "E0114"]
NDC = ["0002-8215-01", "0169-4132-12", "0078-0357-15", "50090-2857-0", "0006-0749-54", "68180-0513-01"]
PLANS = ["HMO-GOLD", "PPO-SILVER", "EPO-BRONZE", "MEDICARE-ADV"]
VOCABULARY = 512
# Faker provider a semantic hint maps to, when the names differ.
FAKER_ALIASES = {"address": "street_address", "phone": "phone_number", "email": "email", "ssn": "ssn", "zip": "zipcode"}


@dataclass(frozen=True)
class Context:
    """What generators may depend on: the feed, its delivery window, the provider's member pool."""

    spec: SourceSpec
    window: tuple[dt.date, dt.date]
    rows: int
    member_pool: int
    rng: np.random.Generator
    fake: Faker
    offset: int = 0  # index of the first row, so chunks of one big file keep keys unique

    @property
    def prefix(self) -> str:
        return self.spec.provider[:3].upper()

    @property
    def is_snapshot(self) -> bool:
        """A roster keyed by member id: every member of the pool appears once."""
        return any(self.spec.column(k).semantic == "member_id" for k in self.spec.primary_key)


Generator = Callable[[Context, Column], pl.Series]


def _choice(ctx: Context, values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(ctx.rng.integers(0, len(values), ctx.rows))


def _dates(ctx: Context, column: Column, start: dt.date, days: np.ndarray) -> pl.Series:
    fmt = (column.input_format or ["%Y-%m-%d"])[0]
    return pl.Series(np.datetime64(start, "D") + days.astype("timedelta64[D]")).cast(pl.Date).dt.strftime(fmt)


def _in_window(ctx: Context, column: Column) -> pl.Series:
    start, end = ctx.window
    return _dates(ctx, column, start, ctx.rng.integers(0, max((end - start).days, 1), ctx.rows))


def member_ids(ctx: Context, numbers: np.ndarray) -> pl.Series:
    return pl.Series(numbers).cast(pl.String).str.zfill(8).str.replace(r"^", ctx.prefix)


def _member_id(ctx: Context, column: Column) -> pl.Series:
    numbers = (ctx.offset + np.arange(ctx.rows)) % ctx.member_pool if ctx.is_snapshot else ctx.rng.integers(0, ctx.member_pool, ctx.rows)
    return member_ids(ctx, numbers)


def _claim_id(ctx: Context, column: Column) -> pl.Series:
    # Two lines per claim: claim ids repeat in pairs, (claim, line) is the key.
    n = pl.Series((ctx.offset + np.arange(ctx.rows)) // 2).cast(pl.String).str.zfill(7)
    return n.str.replace(r"^", f"{ctx.prefix}C{ctx.window[0]:%Y%m%d}")


def luhn_npi(first9: np.ndarray) -> np.ndarray:
    """NPIs (int64) with a valid check digit: Luhn over the prefix 80840 + the first nine digits."""
    digits = (first9[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    doubled = digits[:, ::2] * 2  # positions 1,3,5,7,9 from the left are doubled (rightmost of 9 + check)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = 24 + doubled.sum(axis=1) + digits[:, 1::2].sum(axis=1)
    return first9 * 10 + (10 - total % 10) % 10


def npi_check_digit(first9: str) -> str:
    """The NPI check digit for a nine-digit prefix (scalar form of `luhn_npi`)."""
    return str(int(luhn_npi(np.array([int(first9)]))[0]) % 10)


def _npi(ctx: Context, column: Column) -> pl.Series:
    return pl.Series(luhn_npi(ctx.rng.integers(100_000_000, 200_000_000, ctx.rows))).cast(pl.String)


def _money(ctx: Context, column: Column) -> pl.Series:
    cents = ctx.rng.integers(1_000, 250_000, ctx.rows)
    return pl.Series(cents // 100).cast(pl.String) + "." + pl.Series(cents % 100).cast(pl.String).str.zfill(2)


def _vocabulary(provider: str) -> Generator:
    def generate(ctx: Context, column: Column) -> pl.Series:
        method = getattr(ctx.fake, provider)
        return _choice(ctx, [str(method()).replace("\n", ", ") for _ in range(VOCABULARY)])

    return generate


def _birth_date(ctx: Context, column: Column) -> pl.Series:
    days = ctx.rng.integers(0, 95 * 365, ctx.rows)
    return _dates(ctx, column, ctx.window[0] - dt.timedelta(days=95 * 365), days)


def _coverage_start(ctx: Context, column: Column) -> pl.Series:
    # Spans start 30-900 days before the window, so they cover every claim date in it.
    return _dates(ctx, column, ctx.window[0] - dt.timedelta(days=900), ctx.rng.integers(0, 870, ctx.rows))


def _coverage_end(ctx: Context, column: Column) -> pl.Series:
    return _dates(ctx, column, ctx.window[1] + dt.timedelta(days=30), ctx.rng.integers(0, 700, ctx.rows))


SEMANTICS: dict[str, Generator] = {
    "member_id": _member_id,
    "claim_id": _claim_id,
    "line_number": lambda ctx, c: pl.Series((ctx.offset + np.arange(ctx.rows)) % 2 + 1).cast(pl.String),
    "first_name": _vocabulary("first_name"),
    "last_name": _vocabulary("last_name"),
    "birth_date": _birth_date,
    "gender": lambda ctx, c: _choice(ctx, ["M", "F", "U"]),
    "plan_code": lambda ctx, c: _choice(ctx, PLANS),
    "service_date": _in_window,
    "coverage_start": _coverage_start,
    "coverage_end": _coverage_end,
    "npi": _npi,
    "icd10": lambda ctx, c: _choice(ctx, ICD10),
    "cpt": lambda ctx, c: _choice(ctx, CPT),
    "hcpcs": lambda ctx, c: _choice(ctx, CPT),
    "ndc": lambda ctx, c: _choice(ctx, NDC),
    "money": _money,
    "boolean": lambda ctx, c: _choice(ctx, ["Y", "N"]),
}


def _by_type(ctx: Context, column: Column) -> pl.Series:
    kind = column.type
    if kind is ColumnType.string:
        return _choice(ctx, [ctx.fake.bothify("??####") for _ in range(VOCABULARY)])
    if kind is ColumnType.integer:
        return pl.Series(ctx.rng.integers(0, 1000, ctx.rows)).cast(pl.String)
    if kind is ColumnType.decimal:
        digits = min(column.precision - column.scale, 6)
        value = pl.Series(ctx.rng.integers(0, 10**digits, ctx.rows)).cast(pl.String)
        if not column.scale:
            return value
        return value + "." + pl.Series(ctx.rng.integers(0, 10**column.scale, ctx.rows)).cast(pl.String).str.zfill(column.scale)
    if kind is ColumnType.float:
        return pl.Series(np.round(ctx.rng.uniform(0, 1000, ctx.rows), 3)).cast(pl.String)
    if kind is ColumnType.boolean:
        return _choice(ctx, [column.true_values[0], column.false_values[0]])
    if kind is ColumnType.date:
        return _in_window(ctx, column)
    return _datetimes(ctx, column)


def _datetimes(ctx: Context, column: Column) -> pl.Series:
    """Moments in the window, written in the column's first format in its zone: with their offset
    (`%z`, and the default ISO 8601 form) or as local times, never one a DST change skips or repeats."""
    fmt = (column.input_format or ["%Y-%m-%dT%H:%M:%S%z"])[0]
    zone = ctx.spec.timezone_of(column)
    start, end = ctx.window
    seconds = ctx.rng.integers(0, max((end - start).days, 1) * 86_400, ctx.rows)
    naive = pl.Series(np.datetime64(dt.datetime.combine(start, dt.time())) + seconds.astype("timedelta64[s]"))
    # Two hours on, a local time a DST change skips or repeats is a single moment again.
    placed = lambda times: times.dt.replace_time_zone(zone, ambiguous="null", non_existent="null")  # noqa: E731
    local = placed(naive).fill_null(placed(naive + dt.timedelta(hours=2)))
    # chrono writes %f as nanoseconds: write the six digits the formats read.
    return local.dt.strftime(fmt.replace(".%f", "%.6f").replace("%.f", "%.6f"))


def generator_for(column: Column) -> Generator:
    """The generator for a column: its semantic hint, a Faker provider of that name, or its type."""
    sem = column.semantic
    if sem in SEMANTICS:
        return SEMANTICS[sem]
    if sem:
        provider = FAKER_ALIASES.get(sem, sem)
        if hasattr(Faker("en_US"), provider):
            return _vocabulary(provider)
        raise ValueError(
            f"column {column.name}: semantic {sem!r} is neither a platform generator ({sorted(SEMANTICS)}) nor a Faker provider"
        )
    return _by_type


def generate(ctx: Context) -> pl.DataFrame:
    """`ctx.rows` rows of strings, one column per declared column, in declared order."""
    return pl.DataFrame([generator_for(c)(ctx, c).alias(c.name) for c in ctx.spec.columns])
