"""`carelake demo` on feeds it used to crash on: an adhoc feed is simulated and registered, a yearly feed
whose window the month does not start or has not ended is refused with the month to use instead."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from carelake.tools.cli import main
from tests.support.specs import feed_yaml, write_spec

COLUMNS = """\
columns:
  - {name: CODE, nullable: false}
  - {name: LABEL}
primary_key: [CODE]
"""


def test_an_adhoc_feed_is_demoed_as_one_delivery_partition(cli_env, capsys):
    write_spec(cli_env, "testco", "drops", feed_yaml("drop_*.csv", start="2025-01-01", cadence="adhoc"), COLUMNS)

    assert main(["demo", "--feed", "testco/drops", "--month", "2026-10-01"]) == 0

    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("testco/drops")]
    assert rows and rows[0][1] == "1" and rows[0][-1] == "ok"
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("testco__drops__deliveries") == ["drop_20261001.csv"]


def test_a_yearly_feed_is_refused_for_a_month_without_an_ended_window_with_the_month_to_use(cli_env, capsys):
    write_spec(cli_env, "testco", "refs", feed_yaml("ref_{date:%Y}.csv", start="2024-01-01", cadence="yearly"), COLUMNS)
    this_year = dt.datetime.now(dt.UTC).year  # its window ends next January; last year's has ended

    assert main(["demo", "--feed", "testco/refs", "--month", f"{this_year}-10-01"]) == 1
    err = capsys.readouterr().err
    assert f"testco/refs: no yearly window of it starts in {this_year}-10 (its windows start on Jan 1, from 2024-01-01)" in err
    assert f"demo it with --month {this_year - 1}-01-01" in err

    assert main(["demo", "--feed", "testco/refs", "--month", f"{this_year}-01-01"]) == 1
    err = capsys.readouterr().err
    assert f"its yearly window {this_year}-01-01 has not ended yet" in err and f"--month {this_year - 1}-01-01" in err
    assert not (cli_env.landing_root / "testco").exists()  # refused before anything was simulated

    assert main(["demo", "--feed", "testco/refs", "--month", f"{this_year - 1}-01-01"]) == 0
    assert "testco/refs" in capsys.readouterr().out
