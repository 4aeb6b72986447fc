"""`carelake demo` (what `make demo` runs): a simulated month through every feed, via Dagster."""

from __future__ import annotations

import re

from carelake.spec.loading import load_specs
from carelake.tools.cli import main
from tests.support.environment import REPO_SOURCES


def test_the_demo_materializes_a_month_of_every_sample_feed(demo_home, capsys):
    home = demo_home

    assert main(["demo", "--month", "2026-10-01", "--fault-rate", "0.02"]) == 0

    out = capsys.readouterr().out
    rows = {fields[0]: fields for fields in map(str.split, out.splitlines()) if len(fields) == 8 and "/" in fields[0]}
    # What masking did, said where the user looks, with the masked values of a real row: a token, a null, a year.
    assert re.search(r"member_id: hash -> [0-9a-f]{32}\b", out) and "first_name: redact -> null" in out, out
    assert re.search(r"service_date: year_only -> 2026\b", out), out
    simulated = [s.spec.key for s in load_specs(REPO_SOURCES) if s.spec.start_date.isoformat() <= "2026-10-01"]
    for feed in simulated:
        if feed.startswith("cms_desynpuf"):
            continue  # a historical extract: nothing to simulate for October 2026
        _, partitions, raw, transformed, quarantined, ok, failed, run = rows[feed]
        assert run == "ok" and int(failed) == 0 and int(ok) >= 2
        assert int(raw) > 0 and int(transformed) > 0 and int(quarantined) > 0
    assert rows["acme_health/claims"][1] == "31"  # one partition per October day
    assert (home / "lake" / "transformed" / "acme_health" / "claims" / "_delta_log").is_dir()
