"""`carelake demo`: simulate a month of deliveries and materialize every partition through Dagster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from carelake.errors import without_values
from carelake.names import TRANSFORMED, table_key
from carelake.settings import Settings
from carelake.spec import Cadence, SourceSpec
from carelake.spec.loading import load_specs
from carelake.spec.windows import first_window_start, keys_between
from carelake.tools.run import FeedSummary, materialize_feed
from carelake.tools.simulation import Simulator
from platform_assets.assembly import build_definitions
from platform_assets.partitions import partitions_for
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


@dataclass
class Refusal:
    """A feed the demo did not run, and why (with what to do instead)."""

    feed: str
    reason: str
    error: bool = False  # the simulator failed on the spec (not a limit of the month chosen)


def run_demo(settings: Settings, instance: dg.DagsterInstance, month: dt.date, fault_rate: float, seed: int,
             feeds: list[str] | None = None) -> tuple[list[FeedSummary], list[Refusal]]:
    """Simulate `month` for every feed (or the named `provider/table` feeds), then one single-run backfill
    per feed; feeds it cannot simulate for that month are refused, each with the reason."""
    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    defs = build_definitions(settings)
    simulator = Simulator(settings.landing_root, seed=seed)
    lake = DeltaLake(root=settings.lake_root)
    summaries, refusals = [], []
    for loaded in load_specs(settings.sources_dir):
        spec = loaded.spec
        if feeds and spec.key not in feeds:
            continue
        reason = refusal(spec, start, end)
        if reason:
            refusals.append(Refusal(spec.key, reason))
            continue
        try:
            report = simulator.simulate(spec, start, end, fault_rate=fault_rate)
        except Exception as exc:  # noqa: BLE001 - reported per feed (value-free), the demo goes on and exits 1
            refusals.append(Refusal(spec.key, f"the simulator cannot write this spec ({type(exc).__name__}: {without_values(exc)}); "
                                    f"run a real file instead: carelake run {spec.key} --file FILE", error=True))
            continue
        if spec.cadence is Cadence.adhoc:
            keys = sorted({d.name for d in report.deliveries})
        else:
            keys = [k for k in keys_between(spec, start.isoformat(), end.isoformat()) if partitions_for(spec).has_partition_key(k)]
        summaries.append(materialize_feed(defs, instance, spec, keys, lake))
    return summaries, refusals


def refusal(spec: SourceSpec, start: dt.date, end: dt.date) -> str | None:
    """Why the demo cannot simulate the month [start, end) of a feed (None: it can)."""
    if spec.cadence is Cadence.adhoc:
        return None  # one simulated file, registered as its delivery partition
    keys = keys_between(spec, start.isoformat(), end.isoformat())
    closed = [k for k in keys if partitions_for(spec).has_partition_key(k)]
    if closed:
        return None
    latest = partitions_for(spec).get_last_partition_key()  # the latest window that has ended
    instead = f"--month {latest}" if latest else "a month once its first window has ended"
    if not keys:
        return (f"no {spec.cadence.value} window of it starts in {start:%Y-%m} (its windows start on "
                f"{_window_starts(spec)}, from {first_window_start(spec)}); demo it with {instead}")
    return (f"its {spec.cadence.value} window {keys[0]} has not ended yet (Dagster creates a time partition when its window "
            f"ends); demo it with {instead}")


def _window_starts(spec: SourceSpec) -> str:
    return {Cadence.quarterly: "Jan, Apr, Jul and Oct 1", Cadence.semiannual: "Jan and Jul 1",
            Cadence.yearly: "Jan 1"}.get(spec.cadence, "every window boundary")


def format_refusals(refusals: list[Refusal]) -> str:
    return "\n".join(["not demoed:", *(f"  {r.feed}: {r.reason}" for r in refusals)]) if refusals else ""


def format_masking(specs: list, lake: DeltaLake | None = None) -> str:
    """What the transformed layer did with each PHI column (the values stay in raw, the PHI zone), with
    the masked values of the table's first row when `lake` is given (tokens, years, ZIP3s, nulls: no PHI)."""
    lines = ["PHI in transformed (raw and quarantine keep the delivered values), as in its first row:"]
    for spec in specs:
        phi = {spec.transformed_names[c.name]: spec.masking_of(c).value for c in spec.columns if c.phi}
        if not phi:
            continue
        key, everything = table_key(TRANSFORMED, spec), PartitionSelection.everything()
        first = lake.scan(key, everything).select(list(phi)).head(1).collect() if lake is not None and lake.exists(key) else None
        row = first.row(0, named=True) if first is not None and first.height else {}
        masked = [f"{name}: {how}" + (f" -> {_shown(row[name])}" if row else "") for name, how in phi.items()]
        lines.append(f"  {spec.key:24} " + ", ".join(masked))
    return "\n".join(lines)


def _shown(value: object) -> str:
    return "null" if value is None else str(value)


def format_summary(summaries: list[FeedSummary]) -> str:
    header = ("feed", "partitions", "raw rows", "transformed", "quarantined", "check results ok", "failed", "run")
    rows = [
        (s.feed, s.partitions, s.rows_raw, s.rows_transformed, s.rows_quarantined, s.checks_passed, s.checks_failed,
         "ok" if s.success else "FAILED")
        for s in summaries
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])
