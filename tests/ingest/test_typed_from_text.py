"""Typed columns are parsed from the delivered text, not by the CSV reader's own number parser.

Why (issue 14 part 3, measured on polars 2.1): a quarantined row keeps every column's delivered
text in `record`, which a native parse has already lost ("007" and "+7" both become 7); and
polars' native decimal parse rounds (1.234 -> 1.23, 1.999 -> 2.00) and accepts `1e3` and `.5`,
which the declared decimal(p, s) rejects. These tests fail if a reader starts parsing natively.
"""

from __future__ import annotations

import json
from decimal import Decimal

from tests.support.deliveries import ingest_file
from tests.support.specs import spec_of

SPEC = spec_of("""
    format: {kind: csv}
    columns:
      - {name: ID, nullable: false}
      - {name: DAY, type: date, input_format: "%Y%m%d"}
      - {name: AMOUNT, type: decimal, precision: 9, scale: 2}
      - {name: COUNT, type: integer}
""")


def test_a_rejected_row_keeps_the_delivered_text_of_its_typed_columns(tmp_path):
    content = "ID,DAY,AMOUNT,COUNT\nA1,20250302,5.0,007\nA2,2025-03-02,1.,+7\nA3,20251399, 2.50 , 0012 \n"
    raw, quarantine, _ = ingest_file(tmp_path, SPEC, "feed_20250302.csv", content)
    assert raw["COUNT"].to_list() == [7] and raw["AMOUNT"].to_list() == [Decimal("5.00")]
    assert quarantine.select("_line", "column").rows() == [(3, "DAY"), (4, "DAY")]
    # Trimmed (trim: true is the default), otherwise as delivered: not re-rendered from a parsed number.
    assert [json.loads(r) for r in quarantine["record"]] == [
        {"ID": "A2", "DAY": "2025-03-02", "AMOUNT": "1.", "COUNT": "+7"},
        {"ID": "A3", "DAY": "20251399", "AMOUNT": "2.50", "COUNT": "0012"},
    ]


def test_decimals_beyond_the_declared_form_are_quarantined_not_rounded(tmp_path):
    values = ["1.234", "1.999", "1e3", ".5", "0000000001.00", "1.23"]
    content = "ID,DAY,AMOUNT,COUNT\n" + "".join(f"A{i},20250302,{v},1\n" for i, v in enumerate(values))
    raw, quarantine, _ = ingest_file(tmp_path, SPEC, "feed_20250302.csv", content)
    assert raw["AMOUNT"].to_list() == [Decimal("1.23")]
    assert quarantine["value"].to_list() == values[:-1]
    assert set(quarantine["rule"]) == {"type"}
