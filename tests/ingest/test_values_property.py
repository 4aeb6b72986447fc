"""Property: typing is exact. Adversarial values per column type (the classes of the data-safety
issue: short and signed dates, sentinels, leap seconds, overflowing / underflowing / non-finite
floats, long mantissas, exponents, Unicode digits, control / zero-width / BOM characters, NFD keys,
padding, quotes and line breaks) are written with Python's `csv` and ingested through the real
path. An independent oracle (Python's `csv`, `datetime.strptime`, `decimal.Decimal`, `float`,
`unicodedata`, applied to the same spec) types the same rows: every row either reads back equal to
the oracle's values or, where the oracle rejects a value, is quarantined with a reason naming that
column, at the physical line Python's `csv` says the record starts on. Nothing in between.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import tempfile
import unicodedata
from decimal import Decimal, InvalidOperation
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

SPEC = spec_of("""
    format: {kind: csv}
    columns:
      - {name: KEY, nullable: false}
      - {name: NOTE}
      - {name: COUNT, type: integer}
      - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
      - {name: RATE, type: float}
      - {name: FLAG, type: boolean}
      - {name: DAY, type: date, input_format: "%Y%m%d"}
      - {name: US_DAY, type: date, input_format: "%m/%d/%Y"}
      - {name: STAMP, type: datetime, input_format: ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"]}
    primary_key: [KEY]
""")
NAMES = [c.name for c in SPEC.columns]

# ---- the oracle: written from the spec's documented meaning, not from carelake's code ---------

# Unicode White_Space: what a trimmed column loses at both ends.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
EARLIEST, LATEST = dt.date(1800, 1, 1), dt.date(2199, 12, 31)
REJECT = object()


def o_string(value: str, key: bool):
    if key:
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value) or unicodedata.normalize("NFC", value) != value:
            return REJECT
    elif any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value):
        return REJECT
    return value


def o_integer(value: str):
    if not value.isascii() or not value.lstrip("+-").isdigit() or value[:1] in "+-" and value[1:2] in "+-":
        return REJECT
    number = int(value)
    return number if -(2**63) <= number < 2**63 else REJECT


def o_decimal(value: str, precision: int = 9, scale: int = 2):
    # The documented text: sign, 1..precision-scale digits, optionally '.' and at most `scale` digits.
    if not value.isascii() or "e" in value.lower() or value.startswith((".", "+.", "-.")):
        return REJECT
    try:
        number = Decimal(value)
    except InvalidOperation:
        return REJECT
    if not number.is_finite() or value.strip() != value or "_" in value:
        return REJECT
    whole, _, fraction = value.lstrip("+-").partition(".")
    if not whole or len(whole) > precision - scale or len(fraction) > scale:
        return REJECT
    return number


def o_float(value: str):
    # Decimal notation only (no inf / nan words, hex, underscores); finite; not rounded to 0.
    if not value.isascii() or "_" in value or value.strip() != value or re.search(r"[^0-9eE.+-]", value):
        return REJECT
    try:
        number = float(value)
    except ValueError:
        return REJECT
    mantissa = re.split("[eE]", value)[0]
    if not math.isfinite(number) or (number == 0 and any(c in "123456789" for c in mantissa)):
        return REJECT
    return number


def o_boolean(value: str):
    column = SPEC.column("FLAG")
    return True if value in column.true_values else False if value in column.false_values else REJECT


def _strftime(moment, fmt: str) -> str:
    return moment.strftime(fmt.replace("%Y", f"{moment.year:04d}"))


def o_date(value: str, fmt: str):
    try:
        day = dt.datetime.strptime(value, fmt).date()
    except ValueError:
        return REJECT
    # strptime reads `%m` / `%d` as one or two digits: the text must be the date written in full.
    if _strftime(day, fmt) != value or not EARLIEST <= day <= LATEST:
        return REJECT
    return day


def o_datetime(value: str):
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            moment = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        head, _, fraction = value.partition(".")
        if _strftime(moment, "%Y-%m-%d %H:%M:%S") == head and EARLIEST <= moment.date() <= LATEST:
            return moment.replace(tzinfo=dt.UTC)  # no offset: a local time in the spec's zone, UTC by default
    return REJECT


ORACLE = {
    "KEY": lambda v: o_string(v, key=True), "NOTE": lambda v: o_string(v, key=False), "COUNT": o_integer,
    "AMOUNT": o_decimal, "RATE": o_float, "FLAG": o_boolean, "DAY": lambda v: o_date(v, "%Y%m%d"),
    "US_DAY": lambda v: o_date(v, "%m/%d/%Y"), "STAMP": o_datetime,
}


def oracle(record: list[str]) -> tuple[dict, list[str]]:
    """(typed values, columns the oracle rejects) of one record as Python's csv read it."""
    typed, rejected = {}, []
    for name, text in zip(NAMES, record, strict=True):
        text = text.strip(WHITESPACE)
        value = None if text == "" else ORACLE[name](text)
        if value is None and name == "KEY":
            value = REJECT  # required
        if value is REJECT:
            rejected.append(name)
        typed[name] = value
    return typed, rejected


# ---- adversarial values ---------------------------------------------------------------------

controls = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"])
invisible = st.sampled_from(["\u200b", "\u200c", "\u200d", "\ufeff", "\u202e", "\u2060", "\u00ad", "\u2028"])
padding = st.sampled_from(["", " ", "  ", "\t", "\u00a0", "\u3000"])
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=8)


def padded(values):
    return st.tuples(padding, values, padding).map("".join)


def spliced(values, extras):
    """A value with an extra character inserted somewhere."""
    return st.tuples(values, extras, st.integers(0, 12)).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:])


dates = st.dates(dt.date(1700, 1, 1), dt.date(9999, 12, 31))
ymd = dates.map(lambda d: _strftime(d, "%Y%m%d"))
mdy = dates.map(lambda d: _strftime(d, "%m/%d/%Y"))
stamps = st.datetimes(dt.datetime(1790, 1, 1), dt.datetime(2300, 1, 1))
float_texts = st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.from_regex(
    r"[+-]?[0-9]{1,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)

VALUES = {
    "KEY": st.from_regex(r"[A-Z][0-9]{1,4}", fullmatch=True) | spliced(st.from_regex(r"[A-Z][0-9]{1,4}", fullmatch=True), controls | invisible)
    | st.sampled_from(["e\u0301", "\u00e9", "A\t1", "", " "]) | padded(st.from_regex(r"[A-Z][0-9]{1,4}", fullmatch=True)),
    "NOTE": text | spliced(text, controls | invisible | st.sampled_from(["\n", "\t", '"', ","])) | padded(text),
    "COUNT": st.integers(-(2**64), 2**64).map(str) | st.sampled_from(["+5", "-0", "1_0", "\u0663", "\uff11", "1.0", "1e3", "0x10", "--1", "+-1"]) | padded(st.integers(-9, 9).map(str)),
    "AMOUNT": st.decimals(min_value=-10**8, max_value=10**8, places=3, allow_nan=False).map(str)
    | st.sampled_from(["1.", ".5", "+1.00", "-0.00", "1e2", "1,50", "NaN", "Infinity", "0001234.5", "1234567.89", "12345678.9", "1.005", "\uff11.00"])
    | padded(st.decimals(min_value=-99, max_value=99, places=2, allow_nan=False).map(str)),
    "RATE": float_texts | st.sampled_from(["1e309", "-1e309", "1e-400", "NaN", "inf", "-Infinity", "2e-324", "3e-324", "1_000", "0x1p3", ".5", "5.", "1e", "e5"]) | padded(float_texts),
    "FLAG": st.sampled_from(["1", "0", "Y", "N", "y", "n", "true", "TRUE", "True", "T", "F", "yes", "no", "tRUE", "2", "Y "]),
    "DAY": ymd | ymd.map(lambda v: v[:-1]) | ymd.map(lambda v: "+" + v) | ymd.map(lambda v: "-" + v[1:])
    | st.sampled_from(["99991231", "00000000", "20241301", "20240230", "18000101", "17991231", "21991231", "22000101", "２０２４０１０１", "2024-01-01"]) | padded(ymd),
    "US_DAY": mdy | mdy.map(lambda v: v.replace("/0", "/")) | mdy.map(lambda v: v[:-2]) | st.sampled_from(["1/2/2024", "02/30/2024", "13/01/2024", "12/31/99999"]),
    "STAMP": stamps.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S")) | stamps.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S.%f")[: -(m.microsecond % 6)] if m.microsecond % 6 else m.strftime("%Y-%m-%d %H:%M:%S.%f"))
    | st.sampled_from(["2024-01-01 00:00:60", "2024-01-01 1:2:3", "2024-01-01 01:02:03.1234567", "2024-01-01T01:02:03", "2024-01-01 24:00:00", "+2024-01-01 00:00:00", "2024-01-01 00:00:00."]),
}
VALID = {
    "KEY": "A1", "NOTE": "n", "COUNT": "1", "AMOUNT": "1.00", "RATE": "0.5", "FLAG": "Y", "DAY": "20250302",
    "US_DAY": "03/02/2025", "STAMP": "2025-03-02 10:00:00",
}


@st.composite
def records(draw):
    """A record: mostly valid values, one to three columns adversarial."""
    record = dict(VALID)
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)):
        record[name] = draw(VALUES[name])
    return [record[n] for n in NAMES]


def _equal(ours, expected) -> bool:
    if isinstance(expected, float):
        return isinstance(ours, float) and (ours == expected) and math.copysign(1, ours) == math.copysign(1, expected)
    return ours == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(records(), min_size=1, max_size=30))
def test_every_value_is_exact_or_quarantined_with_its_reason(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NAMES)
    writer.writerows(rows)
    content = buffer.getvalue()
    # The oracle reads the file back with Python's csv: the records and the line each starts on.
    reader = csv.reader(io.StringIO(content, newline=""))
    next(reader)
    expected, line = {}, reader.line_num
    for record in reader:
        expected[line + 1] = oracle(record)
        line = reader.line_num
    with tempfile.TemporaryDirectory() as tmp:
        raw, quarantine, tally = ingest_file(Path(tmp), SPEC, "feed_20250302.csv", content)
    assert tally.rows_in == len(rows)
    assert sorted(raw["_line"].to_list() + quarantine["_line"].to_list()) == sorted(expected)
    for row in raw.iter_rows(named=True):
        typed, rejected = expected[row["_line"]]
        assert not rejected, (row["_line"], rejected, row)
        for name in NAMES:
            assert _equal(row[name], typed[name]), (name, row[name], typed[name])
    for row in quarantine.iter_rows(named=True):
        typed, rejected = expected[row["_line"]]
        assert rejected, ("quarantined but the oracle accepts it", row)
        assert row["column"] in rejected and row["rule"] in ("not_null", "type", "control_chars", "key_chars"), row
        for name in rejected:
            assert f"{name}: " in row["reason"], (name, row["reason"])
