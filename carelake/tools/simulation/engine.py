"""`Simulator`: one delivery per cadence window for any source spec, into the spec's channel.

Deterministic for a seed: every window draws from its own generator seeded by (seed, feed,
window), so simulating one month gives the same files as simulating the whole year.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from faker import Faker

from carelake.spec import Cadence, SourceSpec
from carelake.spec.patterns import compile_pattern
from carelake.spec.windows import expected_delivery, keys_between, window_of
from carelake.tools.simulation.faults import (
    QUARANTINED,
    Fault,
    FaultRates,
    Injected,
    corrupt_bytes,
    inject_rows,
    reshape_columns,
)
from carelake.tools.simulation.packing import pack
from carelake.tools.simulation.values import Context, generate
from carelake.tools.simulation.writers import first_line, writer_for
from resources.channels import Channels


@dataclass
class Delivery:
    """One simulated file: its name, the window it is for, its rows and the faults in it."""

    name: str
    window: tuple[dt.date, dt.date]
    rows: int
    delivered_at: dt.datetime
    faults: list[Injected] = field(default_factory=list)
    path: Path | None = None  # set for local channels

    @property
    def faulty_rows(self) -> int:
        """Rows the raw layer must quarantine (one quarantinable fault per row at most)."""
        return sum(f.fault in QUARANTINED for f in self.faults)


@dataclass
class SimulationReport:
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.deliveries)

    @property
    def faulty_rows(self) -> int:
        return sum(d.faulty_rows for d in self.deliveries)

    @property
    def faults(self) -> list[Injected]:
        return [f for d in self.deliveries for f in d.faults]

    def count(self, fault: Fault) -> int:
        return sum(f.fault is fault for f in self.faults)

    def by_fault(self) -> dict[str, int]:
        """Injected faults per kind (only kinds that occurred)."""
        out: dict[str, int] = {}
        for f in self.faults:
            out[f.fault.value] = out.get(f.fault.value, 0) + 1
        return dict(sorted(out.items()))


class Simulator:
    """Writes deliveries for specs into their channels (local channels under `landing_root`)."""

    def __init__(self, landing_root: Path | str, seed: int = 0, rows_per_delivery: int = 50, member_pool: int = 200,
                 channels: Channels | None = None):
        self.channels = channels or Channels(root=str(landing_root))
        self.seed = seed
        self.rows_per_delivery = rows_per_delivery
        self.member_pool = member_pool

    def windows(self, spec: SourceSpec, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
        """The cadence windows starting in [start, end) (one window [start, end) for adhoc feeds)."""
        if spec.cadence is Cadence.adhoc:
            return [(start, end)]
        return [window_of(spec, k) for k in keys_between(spec, start.isoformat(), end.isoformat())]

    def simulate(self, spec: SourceSpec, start: dt.date, end: dt.date, fault_rate: float = 0.0,
                 faults: FaultRates | None = None) -> SimulationReport:
        """One delivery per cadence window starting in [start, end); `fault_rate` = quarantinable row faults."""
        rates = faults or FaultRates.quarantinable(fault_rate)
        report = SimulationReport()
        for window in self.windows(spec, start, end):
            delivery = self.deliver(spec, window, rates)
            report.deliveries.append(delivery)
            rng = self._rng(spec, window, "redelivery")
            if rng.random() < rates.rate(Fault.redelivery):
                again = self.deliver(spec, window, FaultRates(), version=2)
                again.faults.append(Injected(Fault.redelivery, again.name))
                report.deliveries.append(again)
        return report

    def deliver(self, spec: SourceSpec, window: tuple[dt.date, dt.date], rates: FaultRates | None = None,
                version: int = 1) -> Delivery:
        """Write the delivery for one window; `version` > 1 is a re-delivery with changed content."""
        rates = rates or FaultRates()
        rng = self._rng(spec, window, f"v{version}")
        fake = Faker("en_US")
        fake.seed_instance(int(rng.integers(2**32)))
        rows = self.member_pool if _is_snapshot(spec) else self.rows_per_delivery
        name = compile_pattern(spec.delivery.file_pattern).render(window[0]) if spec.cadence is not Cadence.adhoc \
            else compile_pattern(spec.delivery.file_pattern).render(window[0], suffix=f"{window[0]:%Y%m%d}")
        frame = generate(Context(spec, window, rows, self.member_pool, rng, fake))
        first = first_line(spec)
        frame, injected = inject_rows(spec, frame, rates, rng, name, first, self.member_pool)
        frame, layout = reshape_columns(spec, frame, rates, rng, name)
        data, broken = corrupt_bytes(writer_for(spec)(spec, frame, True), rates, rng, name, first > 1)
        # Packed after the byte faults: a broken export inside an intact archive, as providers send them.
        data = pack(spec, name, data)
        late = spec.cadence is not Cadence.adhoc and rng.random() < rates.rate(Fault.late)
        delivered_at = self._delivered_at(spec, window, late, version)
        faults = injected + layout + broken
        if late:
            faults.append(Injected(Fault.late, name))
        path = self._put(spec, name, data, delivered_at)
        return Delivery(name, window, rows, delivered_at, faults, path)

    def _delivered_at(self, spec: SourceSpec, window: tuple[dt.date, dt.date], late: bool, version: int) -> dt.datetime:
        """When the provider delivered the file, never in the future (adhoc files: now): between the
        window's end and its due time; a late one 1-72 hours after the due time; a re-delivery after
        the first delivery, still before the due time."""
        now = dt.datetime.now(dt.UTC)
        if spec.cadence is Cadence.adhoc:
            return now
        # Its own generator, so the arrival time changes no generated value of the file.
        rng = self._rng(spec, window, "arrival")
        expected = expected_delivery(spec, window[0].isoformat())
        first = expected - dt.timedelta(hours=float(rng.uniform(0.05, 0.95)) * spec.due_hours)
        if late:
            at = expected + dt.timedelta(hours=float(rng.uniform(1, 72)))
        else:
            at = first + (expected - first) * (1 - 0.5 ** (version - 1))
        return min(at, now)

    def _put(self, spec: SourceSpec, name: str, data: bytes, delivered_at: dt.datetime) -> Path | None:
        channel = spec.delivery.channel
        with tempfile.TemporaryDirectory(prefix="carelake-sim-") as tmp:
            source = Path(tmp) / name
            source.write_bytes(data)
            self.channels.put(channel, name, source)
        if channel.kind != "local":
            return None
        path = self.channels.client(channel).folder(channel) / name
        # A local file carries its delivery time as its mtime; remote stores set their own timestamps.
        os.utime(path, (delivered_at.timestamp(), delivered_at.timestamp()))
        return path

    def _rng(self, spec: SourceSpec, window: tuple[dt.date, dt.date], salt: str) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}/{spec.key}/{window[0]}/{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _is_snapshot(spec: SourceSpec) -> bool:
    return any(spec.column(k).semantic == "member_id" for k in spec.primary_key)
