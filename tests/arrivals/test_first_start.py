"""The first `make dev` after `make demo`: the arrival sensors' first tick requests nothing the demo
already landed, and nothing the simulator delivered on time looks late."""

from __future__ import annotations

import datetime as dt

from carelake.spec.windows import expected_delivery
from carelake.tools.simulation import Fault, FaultRates, Simulator
from tests.support.runs import feed_def, materialize_range, tick
from tests.support.specs import feed_spec


def test_a_first_tick_after_a_backfill_requests_only_what_has_not_landed(settings, instance):
    defs, assets = feed_def(settings, "acme_health", "claims")
    spec = feed_spec(settings, "acme_health/claims")
    sim = Simulator(settings.landing_root, seed=3)
    sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 4))
    assert materialize_range(assets, instance, "2026-10-01", "2026-10-03").success
    sim.simulate(spec, dt.date(2026, 10, 4), dt.date(2026, 10, 5))  # delivered after the backfill

    first = tick(defs, instance, "arrivals_local", None)
    claims = [r.partition_key for r in first.run_requests if r.tags["carelake/feed"] == "acme_health/claims"]
    assert claims == ["2026-10-04"]
    assert all(r.tags["carelake/late"] == "false" for r in first.run_requests)


def test_simulated_deliveries_arrive_inside_their_window_unless_simulated_late(settings):
    spec = feed_spec(settings, "acme_health/claims")
    sim = Simulator(settings.landing_root, seed=5)
    report = sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 11, 1), faults=FaultRates({Fault.late: 0.2}))
    for delivery in report.deliveries:
        due = expected_delivery(spec, delivery.window[0].isoformat())
        closed = dt.datetime.combine(delivery.window[1], dt.time(), dt.UTC)
        late = any(f.fault is Fault.late for f in delivery.faults)
        assert (due < delivery.delivered_at) if late else (closed <= delivery.delivered_at <= due), delivery
        assert delivery.path.stat().st_mtime == delivery.delivered_at.timestamp()
    assert any(f.fault is Fault.late for d in report.deliveries for f in d.faults)
