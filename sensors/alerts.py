"""The alert sensor: the instance's events become alerts, each state change told exactly once.

One sensor (in its own code location, `sensors.alert_location`, so that however many code
locations hold feeds, alerting runs once) reads, after a cursor the daemon keeps (`Cursor`: by time
for check executions and runs, by storage id for landed materializations):
- asset check evaluations, in runs or runless: a check on a partition that starts failing (warn or fail), escalates,
  or passes again; the `freshness` check per table (warn / fail / recovered, "missing delivery"
  when nothing landed for the window);
- run failures (and the success that clears one), except a run that failed only because blocking
  checks failed: those checks already said so, one cause, one alert;
- landed materializations with late files or new versions of files already delivered;
- the latest tick of every other sensor, and (through the webserver's GraphQL) every code
  location, to tell one that errors or fails to load.

Transitions are computed against the last state of each subject kept in the outbox database, so a
failing check does not alert every tick and a restart neither repeats nor loses an alert. Changes
of one check in one tick are grouped (40 partitions of a backfill failing one check: one alert).
Every alert goes through the outbox, which sends with retries and never raises here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._core.event_api import EventRecordsFilter
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._serdes import deserialize_value

from carelake.alerting import Alert, Severity, partition_list
from carelake.alerting.channels import Sender
from carelake.alerting.outbox import Outbox
from carelake.alerting.routing import route
from carelake.errors import without_values
from carelake.names import FRESHNESS_CHECK, LANDED, RunTags
from carelake.settings import Settings
from carelake.spec import SourceSpec
from carelake.spec.loading import load_catalog
from carelake.spec.platform import PlatformConfig

SENSOR_NAME = "carelake_alerts"
INTERVAL_S = 30
_BATCH = 20_000  # rows read per tick and store; a bigger backlog is read over the next ticks
_BLOCKED = "BlockingCheckFailed"  # platform_assets.feeds.BlockingCheckFailed: its checks already alerted
# Check metadata a message may quote: numbers we computed (counts, rates), never samples or text.
_NUMERIC = (dg.IntMetadataValue, dg.FloatMetadataValue, dg.BoolMetadataValue)


@dataclasses.dataclass
class Cursor:
    """Where the last tick stopped in each store: check executions and runs by time (with the ids seen
    at that instant, so a row is read once), landed materializations by storage id."""

    checks: tuple[float, list[str]] = (0.0, [])
    runs: tuple[float, list[str]] = (0.0, [])
    landed: int = -1

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(tuple(data["checks"]), tuple(data["runs"]), data["landed"])

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self))


# Rows are re-read this far behind the cursor: writers on other hosts (run workers, code servers) may
# commit an event stamped by a clock a little behind the newest one already read.
OVERLAP_S = 300.0


def _after(rows: list, cursor: tuple[float, list], stamp, ident) -> tuple[list, tuple[float, list]]:  # noqa: ANN001
    """The rows not yet read (`rows`, ordered by time, start OVERLAP_S before the cursor's time), and the
    cursor after them: the newest time, and the ids of every row within OVERLAP_S of it."""
    since, seen = cursor
    seen = set(seen)
    fresh = [r for r in rows if ident(r) not in seen and stamp(r) >= since - OVERLAP_S]
    if not rows:
        return fresh, cursor
    newest = max(since, stamp(rows[-1]))
    return fresh, (newest, sorted({ident(r) for r in rows if stamp(r) >= newest - OVERLAP_S}))


@dataclasses.dataclass
class Tick:
    """What one evaluation found: alerts to send, state changes to record, and what it saw."""

    alerts: list[Alert] = dataclasses.field(default_factory=list)
    states: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


def _feed_of(key: dg.AssetKey) -> str | None:
    return "/".join(key.path[1:3]) if len(key.path) == 3 else None


class Links:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def run(self, run_id: str) -> tuple[str, str]:
        return ("Run", f"{self.base}/runs/{run_id}")

    def asset(self, key: dg.AssetKey | tuple[str, ...], partition: str | None = None, view: str | None = None) -> tuple[str, str]:
        path = "/".join(key.path if isinstance(key, dg.AssetKey) else key)
        query = {k: v for k, v in (("partition", partition), ("view", view)) if v}
        return ("Asset", f"{self.base}/assets/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else ""))


def _check_state(evaluation: AssetCheckEvaluation) -> str:
    if evaluation.passed:
        return "pass"
    return "warn" if evaluation.severity == dg.AssetCheckSeverity.WARN else "fail"


def _check_evaluations(instance: dg.DagsterInstance, cursor: Cursor) -> list[tuple[int, str, AssetCheckEvaluation]]:
    """(execution id, run id, evaluation) of every check evaluation recorded since the cursor, oldest first.

    Read from the check executions table, the one store that holds every evaluation (in a run or
    runless) in both the SQLite (run-sharded) and the PostgreSQL event log: a storage-id cursor over
    the event log is not run-aware on SQLite. A planned row becomes an evaluation in place, with a
    new timestamp, so the cursor is a time plus the ids already read near it (`_after`).
    """
    table = AssetCheckExecutionsTable
    since = dt.datetime.fromtimestamp(cursor.checks[0] - OVERLAP_S, dt.UTC).replace(tzinfo=None)
    query = (sa.select(table.c.id, table.c.run_id, table.c.evaluation_event, table.c.evaluation_event_timestamp)
             .where(table.c.execution_status != AssetCheckExecutionRecordStatus.PLANNED.value,
                    table.c.evaluation_event_timestamp >= since)
             .order_by(table.c.evaluation_event_timestamp, table.c.id).limit(_BATCH))
    with instance.event_log_storage.index_connection() as conn:
        rows = conn.execute(query).all()
    stamp = lambda row: row.evaluation_event_timestamp.replace(tzinfo=dt.UTC).timestamp()  # noqa: E731
    # A row is updated in place (planned, then evaluated; a runless check's next state): its id and time together.
    fresh, cursor.checks = _after(rows, cursor.checks, stamp, lambda row: f"{row.id}@{stamp(row)}")
    found = []
    for row in fresh:
        event = deserialize_value(row.evaluation_event, dg.EventLogEntry).dagster_event
        if event is not None and event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            found.append((row.id, row.run_id or "", event.event_specific_data))
    return found


def check_alerts(instance: dg.DagsterInstance, outbox: Outbox, cursor: Cursor, links: Links, tick: Tick) -> None:
    """Check evaluations after the cursor: a transition per (check, partition), grouped per check, state and run."""
    latest: dict[str, tuple[int, str, AssetCheckEvaluation]] = {}
    for execution_id, run_id, evaluation in _check_evaluations(instance, cursor):
        # The freshness check follows the table (its window moves on); other checks follow each partition.
        scope = "" if evaluation.check_name == FRESHNESS_CHECK else (evaluation.partition or "")
        latest[f"check:{evaluation.asset_key.to_user_string()}:{evaluation.check_name}:{scope}"] = (execution_id, run_id, evaluation)
    if not latest:
        return
    known = outbox.states(list(latest))
    groups: dict[tuple, list[tuple[int, AssetCheckEvaluation]]] = defaultdict(list)
    for subject, (execution_id, run_id, evaluation) in latest.items():
        before, now = known.get(subject, "pass"), _check_state(evaluation)
        if before == now:
            continue
        tick.states[subject] = now
        # One cause, one alert: a feed's raw and transformed going stale together is one missing delivery.
        scope = _feed_of(evaluation.asset_key) if evaluation.check_name == FRESHNESS_CHECK else evaluation.asset_key.to_user_string()
        groups[(scope, evaluation.check_name, before, now, run_id)].append((execution_id, evaluation))
    failing = _failing_checks(outbox, tick.states)
    for (_, check, before, now, run_id), members in groups.items():
        tick.alerts.append(_check_alert(check, before, now, run_id, members, links, failing))


def _failing_checks(outbox: Outbox, changes: dict[str, str]) -> set[str]:
    """The (asset, check) pairs with a partition still failing after this tick's changes."""
    prefixes = {subject.rsplit(":", 1)[0] for subject in changes}
    failing = set()
    for prefix in prefixes:
        states = {**outbox.states(prefix=prefix + ":"), **{s: v for s, v in changes.items() if s.startswith(prefix + ":")}}
        if any(v == "fail" for v in states.values()):
            failing.add(prefix)
    return failing


def _check_alert(check: str, before: str, now: str, run_id: str, members: list[tuple[int, AssetCheckEvaluation]],
                 links: Links, failing: set[str]) -> Alert:
    """The alert for one group of transitions: one check on one table (its partitions), or a feed's freshness."""
    members = sorted(members, key=lambda m: m[1].asset_key.path[0] != "raw")  # raw first: it names the cause
    first = members[0][1]
    key = first.asset_key
    asset = ", ".join(dict.fromkeys(e.asset_key.to_user_string() for _, e in members))
    partitions = partition_list([e.partition for _, e in members if e.partition])
    numbers = [(label, str(value.value)) for label, value in first.metadata.items() if isinstance(value, _NUMERIC)]
    facts = [("Check", check), ("State", f"{before} -> {now}"), *numbers[:8]]
    link_list = [links.asset(key, partitions[0] if len(partitions) == 1 else None, view="checks")]
    if run_id:
        link_list.append(links.run(run_id))
    freshness = check == FRESHNESS_CHECK
    incident = f"freshness:{_feed_of(key)}" if freshness else f"check:{asset}:{check}"
    if now == "pass":
        kind, severity = ("freshness_recovered" if freshness else "check_recovered"), Severity.info
        title = f"{asset} fresh again" if freshness else f"{asset}: check {check} passes again"
        # PagerDuty hears the resolve only when nothing of this check on this table is still failing.
        resolves = before == "fail" and not any(f"check:{e.asset_key.to_user_string()}:{check}" in failing for _, e in members)
    elif freshness:
        kind, severity, resolves = f"freshness_{now}", Severity(now), False
        window = _text(first.metadata.get("window")) or (partitions[0] if partitions else "")
        due = _text(first.metadata.get("due_at"))
        delivered = _text(first.metadata.get("delivered"))
        if delivered == "False":
            title = f"{_feed_of(key)}: missing delivery for window {window}" + (f" (due {due})" if due else "")
        else:
            title = f"{asset} stale: window {window} is not materialized with its checks passed" + (f" (due {due})" if due else "")
        if now == "warn":
            title += " - warning, not yet due"
    else:
        kind, severity, resolves = "check_failed", Severity(now), False
        count = f" on {len(partitions)} partitions" if len(partitions) > 1 else ""
        title = f"{asset}: {'blocking ' if first.blocking else ''}check {check} failed{count}"
    cause = f"check:{asset}:{check}:{before}->{now}:{min(execution_id for execution_id, _ in members)}"
    return Alert(kind=kind, severity=severity, title=title, cause=cause, feed=_feed_of(key), asset=asset, partitions=partitions,
                 facts=tuple(facts), links=tuple(link_list), incident=incident, resolves=resolves)


def _text(value: dg.MetadataValue | None) -> str:
    return "" if value is None else str(value.value)


def run_alerts(instance: dg.DagsterInstance, outbox: Outbox, cursor: Cursor, links: Links, tick: Tick) -> None:
    """Runs that ended since the cursor: a failure alerts (unless blocking checks explain it), a success clears one."""
    since = dt.datetime.fromtimestamp(cursor.runs[0] - OVERLAP_S, dt.UTC)
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS], updated_after=since),
        order_by="update_timestamp", ascending=True, limit=_BATCH)
    fresh, cursor.runs = _after(list(records), cursor.runs, lambda r: r.update_timestamp.timestamp(), lambda r: r.dagster_run.run_id)
    subjects = []
    for record in fresh:
        run = record.dagster_run
        assets = _run_assets(instance, run)
        feed = run.tags.get(RunTags.FEED) or _run_feed(assets)
        partition = run.tags.get("dagster/partition") or "..".join(
            filter(None, [run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")]))
        subjects.append((f"run:{feed or run.job_name}:{partition}", run, feed, partition, assets))
    known = outbox.states([subject for subject, *_ in subjects])
    for subject, run, feed, partition, assets in subjects:
        before = tick.states.get(subject, known.get(subject, "pass"))
        if run.status == dg.DagsterRunStatus.SUCCESS:
            if before == "fail":
                tick.states[subject] = "pass"
                tick.alerts.append(Alert(
                    kind="run_recovered", severity=Severity.info, title=f"{feed or run.job_name} {partition}: a run succeeded after a failure",
                    cause=f"{subject}:pass:{run.run_id}", feed=feed, partitions=(partition,) if partition else (),
                    links=(links.run(run.run_id),), incident=subject, resolves=True))
            continue
        errors = _step_errors(instance, run.run_id)
        if errors and all(name == _BLOCKED for name, _ in errors):
            tick.notes.append(f"run {run.run_id[:8]} failed on blocking checks: told by the check alerts")
            continue
        tick.states[subject] = "fail"
        name, message = errors[0] if errors else ("", _run_failure_message(instance, run.run_id))
        facts = [("Error", f"{name}: {message}" if name else message), ("Failed steps", str(len(errors)))]
        names = sorted(k.to_user_string() for k in assets)
        tick.alerts.append(Alert(
            kind="run_failed", severity=Severity.fail, title=f"Run failed: {feed or run.job_name}" + (f" {partition}" if partition else ""),
            cause=f"{subject}:fail:{run.run_id}", feed=feed, asset=", ".join(names[:3]) or None,
            partitions=(partition,) if partition else (), facts=tuple(facts), links=(links.run(run.run_id),), incident=subject))


def _run_failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run failure event's message (a run that died outside any step: killed, out of memory), value-free."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    message = records[-1].event_log_entry.dagster_event.message if records else None
    return without_values(message or "the run failed outside its steps")[:300]


def _run_assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> set[dg.AssetKey]:
    """The assets a run set out to materialize (its selection, else its planned materializations)."""
    if run.asset_selection:
        return set(run.asset_selection)
    planned = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    return {r.event_log_entry.dagster_event.asset_key for r in planned}


def _run_feed(assets: set[dg.AssetKey]) -> str | None:
    feeds = {_feed_of(k) for k in assets} - {None}
    return feeds.pop() if len(feeds) == 1 else None


def _step_errors(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(class name, value-free first line) of each failed step's error, innermost cause last."""
    errors = []
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        error = record.event_log_entry.dagster_event.event_specific_data.error
        # Dagster wraps the op's exception; the one that says what happened is the first user error.
        while error is not None and error.cls_name in ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError") and error.cause:
            error = error.cause
        if error is not None:
            errors.append(_error_line(error.cls_name, error.message))
    return errors


def landed_alerts(instance: dg.DagsterInstance, cursor: Cursor, links: Links, tick: Tick) -> None:
    """Late files and re-delivered files, from landed's per-partition materialization metadata: one alert per run and kind."""
    records = instance.event_log_storage.get_event_records(
        EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, after_cursor=cursor.landed),
        limit=_BATCH, ascending=True)
    if not records:
        return
    cursor.landed = records[-1].storage_id
    found: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
    keys: dict[str, dg.AssetKey] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is None or materialization.asset_key.path[0] != LANDED:
            continue
        feed = _feed_of(materialization.asset_key)
        keys[feed] = materialization.asset_key
        for label, kind in (("late_files", "late_delivery"), ("new_versions", "redelivery")):
            value = materialization.metadata.get(label)
            if value is not None and isinstance(value.value, int) and value.value > 0:
                found[(feed, record.run_id, kind)].append((materialization.partition or "", value.value))
    for (feed, run_id, kind), hits in found.items():
        files = sum(n for _, n in hits)
        partitions = partition_list([p for p, _ in hits if p])
        what = "delivered after its due time" if kind == "late_delivery" else "re-delivered with new contents (a new version)"
        tick.alerts.append(Alert(
            kind=kind, severity=Severity.info, title=f"{feed}: {files} file(s) {what}", cause=f"{kind}:{feed}:{run_id}",
            feed=feed, asset=keys[feed].to_user_string(), partitions=partitions, facts=(("Files", str(files)),),
            links=(links.asset(keys[feed], partitions[0] if len(partitions) == 1 else None), links.run(run_id))))


def sensor_alerts(instance: dg.DagsterInstance, outbox: Outbox, links: Links, tick: Tick) -> None:
    """The latest tick of every other sensor: one that errors alerts once, and once more when it recovers."""
    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if s.instigator_name != SENSOR_NAME]
    subjects = {f"sensor:{s.origin.repository_origin.code_location_origin.location_name}:{s.instigator_name}": s for s in states}
    known = outbox.states(list(subjects))
    for subject, state in subjects.items():
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if not ticks or ticks[0].status not in (TickStatus.FAILURE, TickStatus.SUCCESS, TickStatus.SKIPPED):
            continue
        latest = ticks[0]
        now = "fail" if latest.status == TickStatus.FAILURE else "pass"
        before = known.get(subject, "pass")
        if now == before:
            continue
        tick.states[subject] = now
        location = subject.split(":")[1]
        if now == "fail":
            detail = _innermost(latest.error) if latest.error else "no error recorded"
            tick.alerts.append(Alert(
                kind="sensor_error", severity=Severity.fail, title=f"Sensor {state.instigator_name} in {location} is failing",
                cause=f"{subject}:fail:{latest.tick_id}", facts=(("Error", detail),),
                links=(("Sensor", f"{links.base}/locations/{location}/sensors/{state.instigator_name}"),), incident=subject))
        else:
            tick.alerts.append(Alert(
                kind="sensor_recovered", severity=Severity.info, title=f"Sensor {state.instigator_name} in {location} ticks again",
                cause=f"{subject}:pass:{latest.tick_id}", incident=subject, resolves=True))


_CAUSED_BY = "The above exception was caused by the following exception:"


def _innermost(error) -> str:  # noqa: ANN001 - a SerializableErrorInfo
    """'Class: first line' of the exception that started it, value-free. The daemon stores a sensor's error as
    its own wrapper, with the sensor's exception (and its causes) inside the wrapper's text."""
    while error.cause is not None:
        error = error.cause
    name, message = error.cls_name or "Error", error.message
    if _CAUSED_BY in message:
        message = message.rsplit(_CAUSED_BY, 1)[1].strip()
        name = message.split(": ", 1)[0].rsplit(".", 1)[-1]
    name, detail = _error_line(name, message)
    return f"{name}: {detail}"


def _error_line(name: str | None, message: str) -> tuple[str, str]:
    """(class name, its message's first line without values); Dagster's messages repeat the qualified class name."""
    name = name or "Error"
    first = message.strip().splitlines()[0] if message.strip() else ""
    prefix, _, rest = first.partition(": ")
    if rest and prefix.rsplit(".", 1)[-1] == name:
        first = rest
    return name, without_values(first)[:300]


_LOCATIONS_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { className message } } } } } }"""


def location_alerts(dagster_url: str, outbox: Outbox, tick: Tick) -> None:
    """Every code location the webserver knows: one that fails to load alerts the operators (and recovers)."""
    request = urllib.request.Request(f"{dagster_url.rstrip('/')}/graphql", data=json.dumps({"query": _LOCATIONS_QUERY}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the configured Dagster URL
            entries = json.load(response)["data"]["workspaceOrError"].get("locationEntries", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        tick.notes.append(f"code locations not checked: the Dagster webserver at {dagster_url} did not answer ({type(exc).__name__})")
        return
    subjects = {f"location:{e['name']}": e for e in entries}
    known = outbox.states(list(subjects))
    for subject, entry in subjects.items():
        error = entry.get("locationOrLoadError") or {}
        now = "fail" if error.get("__typename") == "PythonError" else "pass"
        before = known.get(subject, "pass")
        if now == before:
            continue
        tick.states[subject] = now
        name = entry["name"]
        if now == "fail":
            detail = ": ".join(_error_line(error.get("className"), error.get("message") or ""))
            tick.alerts.append(Alert(
                kind="location_error", severity=Severity.fail, title=f"Code location {name} failed to load; its feeds are not running",
                cause=f"{subject}:fail:{dt.datetime.now(dt.UTC).isoformat()}", facts=(("Error", detail),),
                links=(("Location", f"{dagster_url.rstrip('/')}/locations"),), incident=subject))
        else:
            tick.alerts.append(Alert(
                kind="location_recovered", severity=Severity.info, title=f"Code location {name} loads again",
                cause=f"{subject}:pass:{dt.datetime.now(dt.UTC).isoformat()}", incident=subject, resolves=True))


def dispatch(alerts: Iterable[Alert], specs: dict[str, SourceSpec], platform: PlatformConfig, outbox: Outbox,
             now: dt.datetime, log: logging.Logger) -> int:
    """Route each alert and store its messages (suppressed in the feed's maintenance window)."""
    stored = 0
    for alert in alerts:
        routing = route(alert, specs, platform)
        for problem in routing.problems:
            log.warning(f"alert {alert.kind} for {alert.feed}: {problem}; add the team (and its channels) there")
        if not routing.recipients:
            log.error(f"alert {alert.kind} for {alert.feed or 'the platform'} has no recipient: {alert.title}. "
                      "Fix: give the feed owners with channels, or set alerts.operators in sources/_platform.yaml")
        spec = specs.get(alert.feed) if alert.feed else None
        window = spec.alerts.maintenance_at(now) if spec else None
        if window is not None:
            log.info(f"alert {alert.kind} for {alert.feed} held: maintenance until {window.end.isoformat()} ({window.reason})")
        stored += outbox.enqueue(alert, routing.recipients, routing.owners, now.timestamp(), suppressed=window is not None)
    return stored


def evaluate(context: dg.SensorEvaluationContext, settings: Settings, now: dt.datetime | None = None) -> dg.SkipReason:
    """One tick: read events, store alerts and state changes, then send what is due. Never raises for a channel."""
    now = now or dt.datetime.now(dt.UTC)
    catalog = load_catalog(settings.sources_dir, settings.spec_cache_file)
    platform = catalog.platform
    specs = {loaded.spec.key: loaded.spec for loaded in catalog.feeds}
    outbox = Outbox(settings.alerts_url)
    dagster_url = settings.dagster_url or platform.alerts.dagster_url
    links = Links(dagster_url)
    cursor, tick = Cursor.parse(context.cursor), Tick()
    check_alerts(context.instance, outbox, cursor, links, tick)
    run_alerts(context.instance, outbox, cursor, links, tick)
    landed_alerts(context.instance, cursor, links, tick)
    sensor_alerts(context.instance, outbox, links, tick)
    location_alerts(dagster_url, outbox, tick)
    stored = dispatch(tick.alerts, specs, platform, outbox, now, context.log)
    # Messages first, then states, then the cursor: a tick cut short re-reads its events, and the
    # outbox's dedup keys make the second enqueue a no-op.
    outbox.set_states(tick.states, now.timestamp())
    context.update_cursor(cursor.dump())
    sent = outbox.deliver(Sender(platform.alerts, settings.alerts_sink), now.timestamp(), platform.alerts.max_attempts,
                          platform.alerts.backoff_seconds, context.log.warning)
    for note in tick.notes:
        context.log.info(note)
    where = f"the local sink {settings.alerts_sink}" if settings.alerts_sink else "their channels"
    return dg.SkipReason(f"{len(tick.alerts)} alert(s), {stored} message(s) queued; to {where}: {sent['sent']} sent, "
                         f"{sent['retrying']} to retry, {sent['failed']} given up")


def build_alert_sensor(settings_of=Settings.from_env) -> dg.SensorDefinition:  # noqa: ANN001 - a Settings factory
    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Turns failures, freshness changes, late files and sensor / code location errors into alerts "
                           "to the feeds' owners and subscribers (sources/_platform.yaml routes them).")
    def carelake_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return evaluate(context, settings_of())

    return carelake_alerts
