"""The freshness sensor: judges every feed's raw and transformed tables each tick (`carelake.freshness`)
and records a runless `freshness` check evaluation for a table only when its state changes.

The cursor keeps each table's last state, the event-log position read up to and the tick's time. A
tick re-judges a feed when it has never been judged, when a materialization of it was logged since
the last tick (its checks follow in the same run), or when one of its windows reached a warning time or deadline
since then (`next_change`): a delivery that never arrives fails at its deadline with no event at
all. Everything else keeps its state without a query, so an idle tick over thousands of feeds is
two event-log reads. A restart reads the stored cursor and re-emits nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from carelake.freshness import CHECK_NAME, PartitionFacts, State, Verdict, has_freshness, judge, next_change, windows_to_judge
from carelake.names import LANDED, RAW, TRANSFORMED, table_key
from carelake.quality import checks_for
from carelake.spec import SourceSpec

SENSOR_NAME = "carelake_freshness"
INTERVAL_S = 60
# Judging time per tick: well inside the daemon's 60 s sensor timeout; the rest waits for the next tick.
BUDGET_S = 40
VERSION = 1
# Events read per tick and kind; a bigger backlog is read over the next ticks, in order.
EVENT_BATCH = 20_000
_CODES = {State.fresh: "f", State.warn: "w", State.fail: "x"}
_STATES = {code: state for state, code in _CODES.items()}
JUDGED_LAYERS = (RAW, TRANSFORMED)


@dataclass(frozen=True)
class FreshnessTarget:
    """One feed as the freshness check sees it: its tables and the blocking checks each must pass."""

    spec: SourceSpec
    blocking: dict[str, tuple[dg.AssetCheckKey, ...]]  # layer -> the blocking check keys of its table

    @classmethod
    def of(cls, spec: SourceSpec) -> FreshnessTarget:
        keys = {layer: tuple(dg.AssetCheckKey(dg.AssetKey(table_key(layer, spec)), c.name)
                             for c in checks_for(spec) if c.layer == layer and c.blocking) for layer in JUDGED_LAYERS}
        return cls(spec, keys)

    def asset_key(self, layer: str) -> dg.AssetKey:
        return dg.AssetKey(table_key(layer, self.spec))

    @property
    def check_keys(self) -> list[dg.AssetCheckKey]:
        return [dg.AssetCheckKey(self.asset_key(layer), CHECK_NAME) for layer in JUDGED_LAYERS]


def freshness_targets(specs: Iterable[SourceSpec]) -> list[FreshnessTarget]:
    """The feeds that get freshness checks (every feed with windows)."""
    return [FreshnessTarget.of(spec) for spec in specs if has_freshness(spec)]


def read_facts(instance: dg.DagsterInstance, target: FreshnessTarget, keys: list[str]) -> dict[str, dict[str, PartitionFacts]]:
    """layer -> partition key -> what the event log says about it (for `keys` only)."""
    if not keys:
        return {layer: {} for layer in JUDGED_LAYERS}
    wanted = set(keys)

    def materialized(layer: str) -> dict[str, int]:
        return instance.get_latest_storage_id_by_partition(target.asset_key(layer), dg.DagsterEventType.ASSET_MATERIALIZATION,
                                                          partitions=wanted)

    delivered = materialized(LANDED)  # a landed partition exists only once a file for it landed
    facts = {}
    for layer in JUDGED_LAYERS:
        done = materialized(layer)
        passed = dict.fromkeys(done, True)
        if target.blocking[layer] and done:
            infos = instance.event_log_storage.get_asset_check_partition_info(list(target.blocking[layer]), partition_keys=list(done))
            by_check_partition = {(i.check_key, i.partition_key): i for i in infos}
            for key in done:
                passed[key] = all(_passed_on_latest(by_check_partition.get((check, key)), done[key]) for check in target.blocking[layer])
        running = _running(instance, target.asset_key(layer), [done[k] for k in done if not passed[k]])
        facts[layer] = {key: PartitionFacts(key in delivered, key in done, passed.get(key, False), done.get(key) in running)
                        for key in keys}
    return facts


def _running(instance: dg.DagsterInstance, asset_key: dg.AssetKey, storage_ids: list[int]) -> set[int]:
    """Those of the materializations `storage_ids` whose run has not finished (their checks may still come)."""
    if not storage_ids:
        return set()
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=storage_ids),
                                              limit=len(storage_ids)).records
    runs = {r.run_id for r in records if r.run_id}
    finished = {r.run_id for r in instance.get_runs(dg.RunsFilter(run_ids=list(runs))) if r.is_finished} if runs else set()
    return {r.storage_id for r in records if r.run_id and r.run_id not in finished}


def _passed_on_latest(info, materialization_id: int) -> bool:  # noqa: ANN001 - AssetCheckPartitionInfo (not public)
    """Whether a check's latest evaluation of a partition passed and is about its latest materialization."""
    if info is None or info.latest_execution_status != AssetCheckExecutionRecordStatus.SUCCEEDED:
        return False
    target = info.latest_target_materialization_storage_id
    # Without a target (an evaluation logged without one), it counts if it was logged after the materialization.
    return target == materialization_id if target is not None else info.latest_check_event_storage_id > materialization_id


def judge_target(instance: dg.DagsterInstance, target: FreshnessTarget, now: dt.datetime) -> dict[str, Verdict | None]:
    """layer -> the table's verdict at `now` (None: no window has closed yet), as the sensor judges it."""
    facts = read_facts(instance, target, windows_to_judge(target.spec, now))
    return {layer: judge(target.spec, now, facts[layer]) for layer in JUDGED_LAYERS}


def evaluation(target: FreshnessTarget, layer: str, verdict: Verdict) -> dg.AssetCheckEvaluation:
    """The `freshness` check evaluation of one table: passed when fresh, WARN or ERROR severity otherwise."""
    return dg.AssetCheckEvaluation(
        asset_key=target.asset_key(layer),
        check_name=CHECK_NAME,
        passed=verdict.passed,
        partition=verdict.window,
        severity=dg.AssetCheckSeverity.WARN if verdict.state is State.warn else dg.AssetCheckSeverity.ERROR,
        metadata=verdict.metadata(),
        blocking=False,
    )


@dataclass
class FreshnessCursor:
    states: dict[str, State] = field(default_factory=dict)  # "layer/provider/table" -> last state recorded
    after: int = 0  # the event-log storage id of the last materialization read
    ticked: float | None = None  # the last tick's time (POSIX seconds)
    pending: set[str] = field(default_factory=set)  # feeds a run was still materializing at the last tick

    @classmethod
    def parse(cls, text: str | None) -> FreshnessCursor:
        if not text:
            return cls()
        body = json.loads(text)
        if body.get("v") != VERSION:
            raise ValueError(f"freshness sensor cursor version {body.get('v')} is not {VERSION}; reset the sensor's cursor")
        return cls({k: _STATES[c] for k, c in body["s"].items()}, body["e"], body["t"], set(body["p"]))

    def serialize(self) -> str:
        states = {k: _CODES[s] for k, s in sorted(self.states.items())}
        return json.dumps({"v": VERSION, "e": self.after, "t": self.ticked, "p": sorted(self.pending), "s": states},
                          separators=(",", ":"))


def _materialized_feeds(instance: dg.DagsterInstance, after: int) -> tuple[set[str], int]:
    """'provider/table' of every feed with a materialization logged after storage id `after`, and the storage
    id read up to (a backlog beyond `EVENT_BATCH` is read by the next ticks). Materializations are indexed
    across runs in every storage; a feed's check evaluations come in the same run, after them (`pending`)."""
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, after_cursor=after),
        limit=EVENT_BATCH, ascending=True)
    feeds = set()
    for record in records:
        key = record.asset_key
        if key is not None and len(key.path) == 3:
            feeds.add("/".join(key.path[1:]))
    return feeds, records[-1].storage_id if records else after


def evaluate_freshness(instance: dg.DagsterInstance, targets: list[FreshnessTarget], cursor_text: str | None,
                       now: dt.datetime, budget_s: float | None = None) -> tuple[list[dg.AssetCheckEvaluation], str]:
    """One tick: the evaluations to record (state changes only) and the next cursor.

    A feed is judged when it was never judged, when it was materialized since the last tick, when one of
    its windows reached a warning time or deadline since then, or while a run was still writing it at the
    last tick. (A blocking check re-run alone, without a materialization, is seen at the next of those.)
    With `budget_s`, feeds still due when it is spent are judged at the next tick (a first tick over
    thousands of feeds takes several ticks instead of outlasting the sensor's timeout).
    """
    started = time.monotonic()
    cursor = FreshnessCursor.parse(cursor_text)
    touched, cursor.after = _materialized_feeds(instance, cursor.after)
    since = dt.datetime.fromtimestamp(cursor.ticked, dt.UTC) if cursor.ticked is not None else None
    pending, events, judged = set(), [], 0
    for target in targets:
        spec = target.spec
        names = {layer: "/".join(table_key(layer, spec)) for layer in JUDGED_LAYERS}
        last = [cursor.states.get(name) for name in names.values()]
        due = (since is None or None in last or spec.key in touched or spec.key in cursor.pending
               or next_change(spec, since) <= now)
        if not due:
            continue
        if budget_s is not None and judged and time.monotonic() - started > budget_s:
            pending.add(spec.key)
            continue
        judged += 1
        keys = windows_to_judge(spec, now)
        facts = read_facts(instance, target, keys)
        for layer in JUDGED_LAYERS:
            if any(f.pending for f in facts[layer].values()):
                pending.add(spec.key)  # its checks are not in yet: judged again next tick, state kept
                continue
            verdict = judge(spec, now, facts[layer])
            if verdict is not None and cursor.states.get(names[layer]) is not verdict.state:
                events.append(evaluation(target, layer, verdict))
                cursor.states[names[layer]] = verdict.state
    cursor.ticked, cursor.pending = now.timestamp(), pending
    _make_room(instance, events)
    return events, cursor.serialize()


def _make_room(instance: dg.DagsterInstance, events: list[dg.AssetCheckEvaluation]) -> None:
    """Remove the execution record of an earlier runless evaluation of the same check and partition.

    Dagster 1.13 indexes a runless evaluation under run id "" and a unique (asset, check, run id,
    partition): a second one for a partition (warn, then fail, then fresh for one window) fails to
    store, and the daemon would retry that tick forever. The event log keeps every evaluation; only the
    index row the UI reads as the partition's latest result is replaced by the new one.
    """
    storage = instance.event_log_storage
    if not events or not isinstance(storage, SqlEventLogStorage):
        return
    table = AssetCheckExecutionsTable.c
    with storage.index_connection() as conn:
        for event in events:
            conn.execute(AssetCheckExecutionsTable.delete().where(
                (table.asset_key == event.asset_key.to_string()) & (table.check_name == event.check_name)
                & (table.run_id == "") & (table.partition == event.partition)))


def build_freshness_sensor(specs: list[SourceSpec]) -> dg.SensorDefinition:
    """The sensor recording every feed's freshness (running by default)."""
    targets = freshness_targets(specs)

    @dg.sensor(
        name=SENSOR_NAME,
        description="Judges the freshness of every feed's raw and transformed tables each minute and records the "
        "`freshness` check (runless, per partition) when a table's state changes: fresh, warn or fail.",
        minimum_interval_seconds=INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def freshness(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        events, cursor = evaluate_freshness(context.instance, targets, context.cursor, dt.datetime.now(dt.UTC), BUDGET_S)
        if events:
            changes = [f"{'/'.join(e.asset_key.path)}: {e.metadata['state'].value}" for e in events]
            context.log.info(f"{len(events)} freshness state change(s): {'; '.join(changes)}")
        return dg.SensorResult(asset_events=events, cursor=cursor)

    return freshness
