"""Property: whatever mix of valid and invalid rows is delivered, every row lands in raw or quarantine."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

SPEC = spec_of("""
    format: {kind: csv}
    columns:
      - {name: ID, nullable: false}
      - {name: NOTE}
      - {name: DAY, type: date, input_format: "%Y%m%d"}
      - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
      - {name: COUNT, type: integer}
""")

# Unicode White_Space: what the raw layer strips from both ends of a value.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
# No control characters (those are quarantined, tests/test_hostile_values.py) but tab and line feed.
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n"), max_size=12)
valid_row = st.tuples(
    st.from_regex(r"[A-Z][0-9]{1,5}", fullmatch=True),
    text,
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(lambda d: d.strftime("%Y%m%d")),
    st.decimals(min_value=-9999999, max_value=9999999, places=2, allow_nan=False).map(str),
    st.integers(-(2**62), 2**62).map(str),
).map(lambda r: (True, r))
invalid_row = st.tuples(
    st.sampled_from(["", "  "]) | st.from_regex(r"[A-Z][0-9]{1,5}", fullmatch=True),
    text,
    st.sampled_from(["2025-02-30", "20251301", "yesterday", "20250101"]),
    st.sampled_from(["1.234", "x", "1,5", "10.00"]),
    st.sampled_from(["1.5", "one", "7"]),
).filter(lambda r: not r[0].strip() or r[2] != "20250101" or r[3] != "10.00" or r[4] != "7").map(lambda r: (False, r))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_row | invalid_row, min_size=1, max_size=40))
def test_no_delivered_row_is_ever_lost(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ID", "NOTE", "DAY", "AMOUNT", "COUNT"])
    writer.writerows(r for _, r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        raw, quarantine, tally = ingest_file(Path(tmp), SPEC, "feed_20250302.csv", buffer.getvalue())
    assert tally.rows_in == len(rows) == raw.height + quarantine.height
    # `_line` is the physical line a record starts on: a quoted field's line breaks move later records down.
    starts = [2]
    for _, r in rows:
        starts.append(starts[-1] + 1 + sum(field.count("\n") for field in r))
    records = sorted(raw["_line"].to_list() + quarantine["_line"].to_list())
    assert records == starts[:-1]
    expected_valid = [starts[i] for i, (ok, _) in enumerate(rows) if ok]
    assert raw["_line"].to_list() == expected_valid
    assert raw["NOTE"].to_list() == [(r[1].strip(WHITESPACE) or None) for ok, r in rows if ok]
