"""Arrival sensors: one per channel kind, turning new deliveries into runs of the landed partitions.

A delivery for a time window requests that window's partition of the feed's three layers (eager
automation only follows the newest partition, and late or re-delivered windows are older ones);
an adhoc feed registers one dynamic partition per delivered file. A run whose files turn out
identical to what already landed stops after landed, so nothing downstream re-runs. A
changed re-delivery is a new fingerprint, so it is requested again and lands as a new version. A
delivery that arrives after its window's due time is tagged and logged as late. The cursor is
durable (stored by Dagster per tick), so a restart neither misses nor repeats a delivery.

A tick normally looks only at files delivered around the newest delivery time (the cursor's
window). A file can arrive with an older mtime (`mv`, `cp -p`, `rsync -t`, `sftp put -p` keep the
provider's timestamp); the cursor's digest of the older files then changes, and that tick asks
the landed manifest which of the older files have not landed yet and requests their partitions.
A feed's first tick (a first start, a reset cursor) asks the manifest too, so files that other
runs already landed (`make demo`, a backfill) are not requested again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable

import dagster as dg

from carelake.names import (
    LANDED,
    LAYERS,
    PARTITION_COLUMN,
    RunTags,
    deliveries_partitions_name,
    table_key,
)
from carelake.quality import checks_for
from carelake.spec import Cadence, SourceSpec
from carelake.spec.patterns import compile_pattern
from carelake.spec.windows import (
    KEY_FORMAT,
    expected_delivery,
    hours_late,
    window_of,
    window_start,
)
from resources.channels import Channels, DeliveredFile, UnsafeChannelPath
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from sensors.arrival_cursor import ArrivalCursor, FeedState

INTERVAL_S = 60

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
        asset_selection=dg.AssetSelection.assets(*[table_key(layer, s) for s in specs for layer in LAYERS]),
        minimum_interval_seconds=INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def arrivals(context: dg.SensorEvaluationContext, landing: Channels, lake: DeltaLake) -> dg.SensorResult:
        return evaluate_arrivals(context, specs, landing, dt.datetime.now(dt.UTC), lake=lake)

    return arrivals


def evaluate_arrivals(context: dg.SensorEvaluationContext, specs: list[SourceSpec], channels: Channels,
                      now: dt.datetime, lake: DeltaLake | None = None) -> dg.SensorResult:
    """One tick: list each channel once, request every partition with new or changed files.

    `lake` is read only for a feed whose files below the window changed (see `_not_landed`); a
    tick that needs it without one raises.
    """
    cursor = ArrivalCursor.parse(context.cursor)
    listings: dict[str, list[DeliveredFile]] = {}
    run_requests, dynamic = [], []
    for spec in specs:
        channel = spec.delivery.channel
        where = channel.model_dump_json()
        if where not in listings:
            try:
                listing = channels.list(channel)
            except UnsafeChannelPath as exc:
                # One feed's bad folder must not stop every other feed's arrivals: said loudly, then skipped.
                context.log.error(f"{spec.key}: {exc}")
                listings[where] = []
                continue
            for name in listing.rejected:
                context.log.warning(f"{channels.describe(channel)}: refused delivered file name {name!r} (escapes its folder)")
            listings[where] = listing.files
        pattern = compile_pattern(spec.delivery.file_pattern)
        files = [f for f in listings[where] if pattern.match(f.name)]
        first_look = spec.key not in cursor.feeds
        state, key_of = cursor.feed(spec.key), _partition_keys(spec)
        taken, older_changed = state.new_files(files), state.older_changed(files)
        if first_look and lake is not None:
            # A feed this cursor never saw (first start, a reset cursor, a new feed over an old folder):
            # what already landed, e.g. by `make demo`, is not requested again.
            taken = _not_landed(spec, key_of, taken, lake, context, "first look at the channel")
        if older_changed:
            taken += _not_landed(spec, key_of, _older_untaken(state, files, taken), lake, context,
                                 "files older than the arrival window changed")
        by_key, pending = _partitions_of(spec, key_of, taken, now, context)
        state.advance(files, older_changed)
        state.pending = {f.name: f.fingerprint for f in pending}
        if spec.cadence is Cadence.adhoc and by_key:
            dynamic.append(dg.AddDynamicPartitionsRequest(deliveries_partitions_name(spec), sorted(by_key)))
        requests = [_request(spec, key, key_files) for key, key_files in sorted(by_key.items())]
        late = [float(r.tags[RunTags.LATE_HOURS]) for r in requests if r.tags[RunTags.LATE] == "true"]
        if late:
            context.log.warning(f"{spec.key}: {len(late)} partition(s) delivered late, the latest {max(late):.1f} h after due")
        run_requests += requests
    return dg.SensorResult(run_requests=run_requests, dynamic_partitions_requests=dynamic, cursor=cursor.serialize())


def _older_untaken(state: FeedState, files: list[DeliveredFile], taken: list[DeliveredFile]) -> list[DeliveredFile]:
    """Files below the window that this tick's fast path did not take (pending ones it did)."""
    taken_names = {f.name for f in taken}
    return [f for f in state.older_files(files) if f.name not in taken_names]


def _not_landed(spec: SourceSpec, key_of: PartitionKeys, files: list[DeliveredFile], lake: DeltaLake | None,
                context: dg.SensorEvaluationContext, why: str) -> list[DeliveredFile]:
    """The files whose (name, fingerprint) the landed manifest does not hold for their partition.

    Files without a valid date are kept, so `_partitions_of` reports them as it does for new ones.
    """
    if not files:
        return []
    if lake is None:
        raise ValueError(f"{spec.key}: {why} and no lake was given to check "
                         "them against the landed manifest. Fix: pass lake= to evaluate_arrivals")
    keys = {f.name: key_of(f) for f in files}
    landed = _landed_files(spec, lake, {k for k in keys.values() if k is not None})
    missing = [f for f in files if (keys[f.name], f.name, f.fingerprint) not in landed]
    context.log.info(f"{spec.key}: {why}; {len(files)} checked against the "
                     f"landed manifest, {len(missing)} not landed")
    return missing


def _landed_files(spec: SourceSpec, lake: DeltaLake, keys: set[str]) -> set[tuple[str, str, str]]:
    """(partition, file name, channel fingerprint) of every file landed in these partitions (as `already_landed` asks)."""
    landed = table_key(LANDED, spec)
    if not keys or not lake.exists(landed):
        return set()
    manifest = lake.scan(landed, PartitionSelection.of_keys(keys))
    if "fingerprint" not in manifest.collect_schema().names():
        return set()  # written before fingerprints were recorded: the landed run compares sha256 instead
    return set(manifest.select(PARTITION_COLUMN, "file_name", "fingerprint").collect().iter_rows())


def _partition_keys(spec: SourceSpec) -> PartitionKeys:
    """A file's partition key (None: its name has no valid date on or after the start date)."""
    if spec.cadence is Cadence.adhoc:
        return lambda f: f.name
    pattern = compile_pattern(spec.delivery.file_pattern)

    @functools.cache
    def of_day(day: dt.date) -> str:  # once per date: channels hold thousands of files
        return window_start(spec, day).strftime(KEY_FORMAT)

    def key_of(file: DeliveredFile) -> str | None:
        day = pattern.date_of(file.name)
        return None if day is None or day < spec.start_date else of_day(day)

    return key_of


def _partitions_of(spec: SourceSpec, key_of: PartitionKeys, files: list[DeliveredFile], now: dt.datetime,
                   context: dg.SensorEvaluationContext) -> tuple[dict[str, list[DeliveredFile]], list[DeliveredFile]]:
    """New files grouped by the partition they belong to, and files whose window has not closed yet."""
    if spec.cadence is Cadence.adhoc:
        return {f.name: [f] for f in files}, []
    window_end = functools.cache(lambda key: window_of(spec, key)[1])
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
    expected = expected_delivery(spec, key)
    late = max(hours_late(expected, dt.datetime.fromtimestamp(f.modified, dt.UTC)) for f in files)
    fingerprint = hashlib.sha256("|".join(sorted(f"{f.name}:{f.fingerprint}" for f in files)).encode()).hexdigest()[:16]
    tags = {RunTags.ARRIVAL: "true", RunTags.FEED: spec.key, RunTags.FILES: str(len(files)), RunTags.LATE: str(bool(late)).lower(),
            RunTags.LATE_HOURS: f"{late:.1f}"}
    if expected is not None:
        tags[RunTags.EXPECTED_AT] = expected.isoformat()
    return dg.RunRequest(
        run_key=f"{spec.key}|{key}|{fingerprint}",
        # Every layer, not landed alone: eager automation only follows the latest partition, and a
        # late or re-delivered window is usually an older one.
        asset_selection=[dg.AssetKey(table_key(layer, spec)) for layer in LAYERS],
        # The feed's own checks, named: unnamed, every check of the assets would run (the freshness check too).
        asset_check_keys=[dg.AssetCheckKey(dg.AssetKey(table_key(c.layer, spec)), c.name) for c in checks_for(spec)],
        partition_key=key,
        tags=tags,
    )
