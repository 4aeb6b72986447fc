"""The engine's windows (`carelake.spec.windows`, plain date arithmetic) are exactly the windows of the
Dagster partitions the code location builds from the same spec, for every cadence and start date."""

from __future__ import annotations

import datetime as dt

import pytest

from carelake.spec import Cadence
from carelake.spec.windows import (
    first_window_start,
    keys_between,
    previous_key,
    window_of,
    window_start,
)
from platform_assets.partitions import partitions_for
from tests.support.specs import spec_of

TIMED = [c for c in Cadence if c is not Cadence.adhoc]
STARTS = [dt.date(2024, 1, 1), dt.date(2024, 2, 29), dt.date(2025, 3, 15), dt.date(2025, 7, 1), dt.date(2025, 10, 5)]
NOW = dt.datetime(2033, 6, 1, tzinfo=dt.UTC)  # late enough for five yearly windows


def spec_with(cadence: Cadence, start: dt.date):
    spec = spec_of("format: {kind: csv}\ncolumns: [{name: ID}]\n")
    return spec.model_copy(update={"cadence": cadence, "start_date": start})


@pytest.mark.parametrize("cadence", TIMED, ids=str)
@pytest.mark.parametrize("start", STARTS, ids=str)
def test_windows_match_the_dagster_partitions(cadence, start):
    spec = spec_with(cadence, start)
    partitions_def = partitions_for(spec)
    keys = partitions_def.get_partition_keys(current_time=NOW)
    assert keys_between(spec, start.isoformat(), NOW.date().isoformat())[: len(keys)] == keys
    assert first_window_start(spec).isoformat() == keys[0]
    assert previous_key(spec, keys[0]) is None
    for before, key in zip(keys, keys[1:], strict=False):
        window = partitions_def.time_window_for_partition_key(key)
        assert window_of(spec, key) == (window.start.date(), window.end.date())
        assert previous_key(spec, key) == before
        for day in (window.start.date(), window.end.date() - dt.timedelta(days=1)):
            assert window_start(spec, day) == window.start.date()
    # A range that starts inside a window covers the windows that start in it, as a lake selection does.
    mid = dt.date.fromisoformat(keys[1]) + dt.timedelta(days=1)
    assert keys_between(spec, mid.isoformat(), keys[4])[:1] == [keys[2]]
