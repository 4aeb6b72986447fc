"""Arrival sensors: one per channel kind, turning new deliveries into runs of the landed partitions.

A delivery for a time window requests that window's partition of the feed's three layers (eager
automation only follows the newest partition, and late or re-delivered windows are older ones);
an adhoc feed registers one dynamic partition per delivered file. A run whose files turn out
identical to what already landed stops after landed, so nothing downstream re-runs. A
changed re-delivery is a new fingerprint, so it is requested again and lands as a new version. A
delivery that arrives after its window's due time is tagged and logged as late. The cursor is
durable (stored by Dagster per tick), so a restart neither misses nor repeats a delivery.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable

import dagster as dg

from platform_assets.layers import asset_key
from platform_assets.lateness import expected_delivery, hours_late
from platform_assets.partitions import dynamic_partitions_name, partitions_for, window_of
from platform_assets.patterns import compile_pattern
from platform_assets.spec import Cadence, SourceSpec
from platform_assets.versions import ARRIVAL_RUN_TAG
from resources.channels import Channels, DeliveredFile
from sensors.arrival_cursor import ArrivalCursor

INTERVAL_S = 60
LAYERS = ("landed", "raw", "transformed")

PartitionKeys = Callable[[DeliveredFile], str | None]


def build_arrival_sensors(specs: list[SourceSpec]) -> list[dg.SensorDefinition]:
    """One arrival sensor per channel kind in use (`arrivals_local`, `arrivals_s3`, ...)."""
    by_kind: dict[str, list[SourceSpec]] = defaultdict(list)
    for spec in specs:
        by_kind[spec.delivery.channel.kind].append(spec)
    return [arrival_sensor(kind, kind_specs) for kind, kind_specs in sorted(by_kind.items())]


def arrival_sensor(kind: str, specs: list[SourceSpec]) -> dg.SensorDefinition:
    """The sensor watching every `kind` channel of `specs`."""

    @dg.sensor(
        name=f"arrivals_{kind}",
        description=f"New deliveries in {kind} channels request their landed partitions.",
        # asset_selection (not target): feeds of one channel kind have different partitions definitions.
        asset_selection=dg.AssetSelection.assets(*[asset_key(layer, s) for s in specs for layer in LAYERS]),
        minimum_interval_seconds=INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def arrivals(context: dg.SensorEvaluationContext, landing: Channels) -> dg.SensorResult:
        return evaluate_arrivals(context, specs, landing, dt.datetime.now(dt.UTC))

    return arrivals


def evaluate_arrivals(context: dg.SensorEvaluationContext, specs: list[SourceSpec], channels: Channels,
                      now: dt.datetime) -> dg.SensorResult:
    """One tick: list each channel once, request every partition with new or changed files."""
    cursor = ArrivalCursor.parse(context.cursor)
    listings: dict[str, list[DeliveredFile]] = {}
    run_requests, dynamic = [], []
    for spec in specs:
        channel = spec.delivery.channel
        where = channel.model_dump_json()
        if where not in listings:
            listing = channels.list(channel)
            for name in listing.rejected:
                context.log.warning(f"{channels.describe(channel)}: refused delivered file name {name!r} (escapes its folder)")
            listings[where] = listing.files
        pattern = compile_pattern(spec.delivery.file_pattern)
        files = [f for f in listings[where] if pattern.match(f.name)]
        state = cursor.feed(spec.key)
        by_key, pending = _partitions_of(spec, _partition_keys(spec), state.new_files(files), now, context)
        state.advance(files)
        state.pending = {f.name: f.fingerprint for f in pending}
        if spec.cadence is Cadence.adhoc and by_key:
            dynamic.append(dg.AddDynamicPartitionsRequest(dynamic_partitions_name(spec), sorted(by_key)))
        requests = [_request(spec, key, key_files) for key, key_files in sorted(by_key.items())]
        late = [float(r.tags["carelake/late_hours"]) for r in requests if r.tags["carelake/late"] == "true"]
        if late:
            context.log.warning(f"{spec.key}: {len(late)} partition(s) delivered late, the latest {max(late):.1f} h after due")
        run_requests += requests
    return dg.SensorResult(run_requests=run_requests, dynamic_partitions_requests=dynamic, cursor=cursor.serialize())


def _partition_keys(spec: SourceSpec) -> PartitionKeys:
    """A file's partition key (None: its name has no valid date on or after the start date)."""
    if spec.cadence is Cadence.adhoc:
        return lambda f: f.name
    pattern, partitions_def = compile_pattern(spec.delivery.file_pattern), partitions_for(spec)

    @functools.cache
    def of_day(day: dt.date) -> str:  # once per date: Dagster's lookup costs ~0.1 ms, channels hold thousands of files
        return partitions_def.get_partition_key_for_timestamp(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())

    def key_of(file: DeliveredFile) -> str | None:
        day = pattern.date_of(file.name)
        return None if day is None or day < spec.start_date else of_day(day)

    return key_of


def _partitions_of(spec: SourceSpec, key_of: PartitionKeys, files: list[DeliveredFile], now: dt.datetime,
                   context: dg.SensorEvaluationContext) -> tuple[dict[str, list[DeliveredFile]], list[DeliveredFile]]:
    """New files grouped by the partition they belong to, and files whose window has not closed yet."""
    if spec.cadence is Cadence.adhoc:
        return {f.name: [f] for f in files}, []
    partitions_def = partitions_for(spec)
    window_end = functools.cache(lambda key: window_of(partitions_def, key)[1])
    by_key: dict[str, list[DeliveredFile]] = defaultdict(list)
    pending = []
    for f in files:
        key = key_of(f)
        if key is None:
            context.log.warning(f"{spec.key}: {f.name} has no valid date on or after {spec.start_date}; not requested")
            continue
        if window_end(key) > now.date():
            pending.append(f)  # early delivery: its partition exists once the window closes
        else:
            by_key[key].append(f)
    return by_key, pending


def _request(spec: SourceSpec, key: str, files: list[DeliveredFile]) -> dg.RunRequest:
    expected = expected_delivery(spec, partitions_for(spec), key) if spec.cadence is not Cadence.adhoc else None
    late = max(hours_late(expected, dt.datetime.fromtimestamp(f.modified, dt.UTC)) for f in files)
    fingerprint = hashlib.sha256("|".join(sorted(f"{f.name}:{f.fingerprint}" for f in files)).encode()).hexdigest()[:16]
    tags = {ARRIVAL_RUN_TAG: "true", "carelake/feed": spec.key, "carelake/files": str(len(files)), "carelake/late": str(bool(late)).lower(),
            "carelake/late_hours": f"{late:.1f}"}
    if expected is not None:
        tags["carelake/expected_at"] = expected.isoformat()
    return dg.RunRequest(
        run_key=f"{spec.key}|{key}|{fingerprint}",
        # Every layer, not landed alone: eager automation only follows the latest partition, and a
        # late or re-delivered window is usually an older one.
        asset_selection=[asset_key(layer, spec) for layer in LAYERS],
        partition_key=key,
        tags=tags,
    )
