"""`carelake report FEED`: what a provider is told about a delivery with known problems, read from the lake
and the instance after a real run; no row value in it (a PHI canary), other values only as shapes."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from carelake.tools.cli import main
from tests.support.deliveries import deliver, set_mtime
from tests.support.specs import YESTERDAY, feed_yaml, write_spec

SPEC = """\
columns:
  - {name: MEMBER, nullable: false, phi: member_id}
  - {name: DOB, type: date, input_format: "%Y%m%d", phi: birth_date}
  - {name: AMOUNT, type: decimal, precision: 8, scale: 2}
  - {name: GENDER}
primary_key: [MEMBER]
validations:
  - {rule: accepted_values, column: GENDER, values: [M, F, U], severity: warn}
"""

# Line 1 is the header; NOTE is a column the spec does not declare. Every CANARY must stay out of the report.
FILE = """\
    MEMBER,DOB,AMOUNT,GENDER,NOTE
    M1,19800101,10.00,M,CANARYNOTE1
    CANARYMBR9,CANARY1990,12.50,F,CANARYNOTE2
    M3,19800101,12x.50,F,n
    ,19800101,1.00,M,n
    M5,19800101,7.12,Q,n
    M6,1980-01-01,abc,M,n
    M7,19800101,1.999,M,n
"""


@pytest.fixture
def delivered(cli_env, tmp_path):
    """testco/members, one daily file for 2025-03-02 delivered 50 hours after it was due, run through Dagster."""
    write_spec(cli_env, "testco", "members", feed_yaml("members_{date:%Y%m%d}.csv", start="2025-03-01"), SPEC)
    export = tmp_path / "export" / "members_20250302.csv"
    export.parent.mkdir()
    export.write_text(textwrap.dedent(FILE))
    due = dt.datetime(2025, 3, 3, tzinfo=dt.UTC) + dt.timedelta(hours=24)
    set_mtime(export, due + dt.timedelta(hours=50))
    assert main(["run", "testco/members", "--file", str(export)]) == 0
    return cli_env


def _report(capsys, *argv: str) -> str:  # noqa: ANN001
    capsys.readouterr()
    assert main(["report", *argv]) == 0
    return capsys.readouterr().out


def _row(text: str, *cells: str) -> bool:
    """Whether a Markdown table row holds these cells in this order."""
    return any(re.search(".*".join(map(re.escape, cells)), line) for line in text.splitlines() if line.startswith("|"))


def test_the_report_gives_counts_lines_drift_lateness_and_expectations_without_values(delivered, capsys):
    text = _report(capsys, "testco/members", "--partition", "2025-03-02")

    assert "7 rows received, 2 loaded, 5 set aside" in text
    assert _row(text, "members_20250302.csv", "2025-03-02", "| 7 | 2 | 5 |")
    # By the first problem of each row: column, problem, rows, first lines, shape of the first value.
    assert _row(text, "| DOB |", "value does not have the expected type or format", "| 2 | 3, 7 | withheld (personal data) |")
    assert _row(text, "| AMOUNT |", "value does not have the expected type or format", "| 2 | 4, 8 | 99X.99 |")
    assert _row(text, "| MEMBER |", "required value is empty", "| 1 | 5 |")
    # Every problem of the rows set aside: line 7's amount too.
    assert _row(text, "| AMOUNT |", "expected a decimal with at most 6 integer and 2 fraction digits", "| 3 | 4, 7, 8 |")
    assert _row(text, "members_20250302.csv", "not in the agreed layout (not loaded)", "| NOTE |")
    assert _row(text, "2025-03-02 to 2025-03-02", "2025-03-04 00:00", "late", "50.0 hours after due")
    assert _row(text, "accepted_values_GENDER", "warning", "| 1 | 2 |")  # 1 of the 2 loaded rows failed
    assert _row(text, "| GENDER |", "one of M, F, U (warning only)")
    assert _row(text, "| DOB | date in format %Y%m%d | no |  | yes |")
    # No value: not the PHI canaries, not a PHI value's shape, not a non-PHI value in clear.
    for secret in ("CANARY", "XXXXXX9999", "12x.50", "1.999", "M5", "M7"):
        assert secret not in text


def test_the_html_report_says_the_same_and_escapes(delivered, capsys, tmp_path):
    out = tmp_path / "report.html"

    _report(capsys, "testco/members", "--file", "members_20250302.csv", "--format", "html", "--out", str(out))

    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>99X.99</td>" in page and "<td>3, 7</td>" in page
    assert "CANARY" not in page and "12x.50" not in page and "&lt;" not in page.split("<body>")[0]


def test_missing_deliveries_are_listed_up_to_the_last_ended_window(cli_env, capsys):
    start = YESTERDAY - dt.timedelta(days=3)
    write_spec(cli_env, "testco", "members", feed_yaml("members_{date:%Y%m%d}.csv", start=start), SPEC)
    deliver(cli_env, "testco", f"members_{start:%Y%m%d}.csv", FILE)
    assert main(["run", "testco/members", "--partition", start.isoformat()]) == 0

    text = _report(capsys, "testco/members")

    missing = [start + dt.timedelta(days=n) for n in (1, 2)]  # the day before yesterday's window ended; yesterday's is due today
    assert f"{len(missing)} period(s) missing" in text
    for day in missing:
        assert _row(text, f"{day} to {day}", "missing")
