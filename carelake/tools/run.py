"""`carelake run FEED`: ingest real delivered files through Dagster, for one partition of one feed.

The same definitions the code location builds (`platform_assets/assembly.py`) are materialized in
the instance of DAGSTER_HOME, so the run, its materializations and its check results are what the
UI shows. `materialize_feed` is shared with `carelake demo`: both run a feed's three layers and
their checks for some partitions and summarize each table from the lake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from carelake.names import LANDED, QUARANTINE, RAW, TRANSFORMED, RunTags, deliveries_partitions_name, table_key
from carelake.settings import Settings
from carelake.spec import Cadence, SourceSpec
from carelake.spec.loading import Catalog, load_catalog
from carelake.spec.patterns import compile_pattern
from carelake.spec.windows import KEY_FORMAT, first_window_start, window_of, window_start
from platform_assets.assembly import build_definitions
from platform_assets.partitions import partitions_for
from resources.channels import Channels
from resources.lake import DeltaLake
from resources.selection import PartitionSelection


class RunRefused(Exception):
    """`carelake run` cannot start: the message says why and what to do instead."""


@dataclass
class FeedSummary:
    """One feed's run: rows per table in the run's partitions (from the lake) and its check results."""

    feed: str
    partitions: int
    rows_raw: int
    rows_transformed: int
    rows_quarantined: int
    checks_passed: int
    checks_failed: int
    success: bool
    files_landed: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)  # "column:rule" -> rows
    failed_checks: list[str] = field(default_factory=list)  # "check (partition)"
    failure: str = ""  # the run's step failures, as Dagster recorded them (value-free messages)
    run_id: str = ""
    warnings: list[str] = field(default_factory=list)


def materialize_feed(defs: dg.Definitions, instance: dg.DagsterInstance, spec: SourceSpec, keys: list[str],
                     lake: DeltaLake, tags: dict[str, str] | None = None) -> FeedSummary:
    """Materialize the feed's landed, raw and transformed assets and their checks for `keys` in one run
    (a single-run backfill for several keys), registering adhoc partitions first; then summarize."""
    if spec.cadence is Cadence.adhoc:
        register_deliveries(instance, spec, keys)
    feed = defs.resolve_assets_def(dg.AssetKey(table_key(RAW, spec)))
    run_tags = {RunTags.FEED: spec.key, **(tags or {})}
    if len(keys) > 1:
        run_tags |= {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    result = dg.materialize(
        [feed],
        instance=instance,
        partition_key=keys[0] if len(keys) == 1 else None,
        tags=run_tags,
        raise_on_error=False,
        # Failures and warnings are summarized from the run's events; the console shows nothing twice.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    checks = result.get_asset_check_evaluations()
    selection = PartitionSelection.of_keys(keys)
    quarantine = table_key(QUARANTINE, spec)
    by_reason = {}
    if lake.exists(quarantine):
        counts = lake.scan(quarantine, selection).group_by("column", "rule").len().sort("len", descending=True).collect()
        by_reason = {f"{column}:{rule}": n for column, rule, n in counts.iter_rows()}
    return FeedSummary(
        feed=spec.key,
        partitions=len(lake.counts_by_partition(table_key(LANDED, spec), selection)),
        rows_raw=lake.count(table_key(RAW, spec), selection),
        rows_transformed=lake.count(table_key(TRANSFORMED, spec), selection),
        rows_quarantined=sum(by_reason.values()),
        checks_passed=sum(c.passed for c in checks),
        checks_failed=sum(not c.passed for c in checks),
        success=result.success,
        files_landed=lake.count(table_key(LANDED, spec), selection),
        quarantine_by_reason=by_reason,
        failed_checks=[f"{c.check_name} ({c.partition})" if c.partition else c.check_name for c in checks if not c.passed],
        failure="" if result.success else step_failures(result),
        run_id=result.run_id,
        warnings=run_warnings(instance, result.run_id),
    )


def register_deliveries(instance: dg.DagsterInstance, spec: SourceSpec, keys: list[str]) -> list[str]:
    """Add the adhoc feed's dynamic partitions (one per delivered file) that the instance does not have yet,
    as the arrival sensor does; returns the keys added."""
    name = deliveries_partitions_name(spec)
    known = set(instance.get_dynamic_partitions(name))
    missing = [k for k in keys if k not in known]
    if missing:
        instance.add_dynamic_partitions(name, missing)
    return missing


def step_failures(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step's error and its causes, one per line (the op stores them without values)."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error is not None:
                if error.cls_name != "DagsterExecutionStepExecutionError":  # Dagster's wrapper: "error in op X"
                    lines.append(error.message.strip().splitlines()[0])
                error = error.cause
    return "\n".join(lines) or "the run failed before any step ran; see the run in the Dagster UI"


def run_warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run's warning log lines (our messages name columns and files, never values)."""
    return [e.user_message for e in instance.all_logs(run_id) if e.level == logging.WARNING and not e.is_dagster_event]


def partition_of_file(spec: SourceSpec, name: str) -> str:
    """The partition a delivered file belongs to: its name (adhoc) or the window its date falls in."""
    pattern = compile_pattern(spec.delivery.file_pattern)
    if not pattern.match(name):
        raise RunRefused(f"{spec.key}: {name!r} does not match the feed's file_pattern {spec.delivery.file_pattern!r}. "
                         f"Fix: rename the file as the provider names it, or correct file_pattern in sources/{spec.key}.yaml")
    if spec.cadence is Cadence.adhoc:
        return name
    day = pattern.date_of(name)
    if day is None:
        raise RunRefused(f"{spec.key}: {name!r} matches file_pattern {spec.delivery.file_pattern!r} but its date is not "
                         "a valid date. Fix: the date part must be a real calendar date")
    return window_start(spec, day).strftime(KEY_FORMAT)


def check_partition(spec: SourceSpec, key: str) -> str:
    """`key` if it is a partition Dagster has (or, adhoc, will have once registered), else RunRefused saying why."""
    if spec.cadence is Cadence.adhoc:
        return key
    try:
        day = dt.date.fromisoformat(key)
    except ValueError:
        raise RunRefused(f"{spec.key}: --partition {key!r} is not a date; a {spec.cadence.value} feed's partitions are "
                         "the start dates of its windows (YYYY-MM-DD)") from None
    start = window_start(spec, day).strftime(KEY_FORMAT)
    if start != key:
        raise RunRefused(f"{spec.key}: {key} is not the start of a {spec.cadence.value} window; the window containing it "
                         f"starts on {start}. Fix: --partition {start}")
    if day < first_window_start(spec):
        raise RunRefused(f"{spec.key}: {key} is before the feed's first window ({first_window_start(spec)}, from start_date "
                         f"{spec.start_date} in sources/{spec.key}.yaml)")
    if not partitions_for(spec).has_partition_key(key):
        _, end = window_of(spec, key)
        raise RunRefused(f"{spec.key}: the {spec.cadence.value} window {key} .. {end} has not ended, so its partition does not "
                         f"exist yet (Dagster adds a time partition when its window ends; the arrival sensor holds early "
                         f"files until then). Fix: run it on or after {end}")
    return key


def place_file(settings: Settings, spec: SourceSpec, file: Path | str) -> str:
    """Make `file` a delivery of the feed: a path is copied into the feed's channel (its modification
    time kept, as a provider's copy keeps it) unless the same bytes are already there; a bare name must
    already be delivered there. Returns the file name."""
    channels, channel, path = _channels(settings), spec.delivery.channel, Path(file)
    if not path.is_file():
        if path.name != str(file):
            raise RunRefused(f"{file}: no such file")
        return find_delivered(settings, spec, path.name)
    name = path.name
    partition_of_file(spec, name)  # refused before anything is copied
    if channel.kind != "local":
        channels.put(channel, name, path)
        return name
    dest = channels.client(channel).folder(channel) / name
    if dest.exists() and (dest.resolve() == path.resolve() or _same_bytes(dest, path)):
        return name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest)
    return name


def find_delivered(settings: Settings, spec: SourceSpec, name: str) -> str:
    """`name` if a file of that name is delivered in the feed's channel, else RunRefused listing what is."""
    channels, channel = _channels(settings), spec.delivery.channel
    delivered = [f.name for f in channels.list(channel).files]
    if name not in delivered:
        pattern = compile_pattern(spec.delivery.file_pattern)
        shown = ", ".join([n for n in delivered if pattern.match(n)][-10:]) or "none"
        raise RunRefused(f"{spec.key}: {name!r} is not a file here nor delivered in {channels.describe(channel)} "
                         f"(delivered files matching the feed's file_pattern, the last 10: {shown})")
    return name


def _channels(settings: Settings) -> Channels:
    return Channels(root=str(settings.landing_root), allowed_roots=list(_catalog(settings).platform.local_channel_roots))


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while chunk := fa.read(1 << 20):
            if chunk != fb.read(len(chunk)):
                return False
    return True


def _catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.sources_dir, settings.spec_cache_file)


def find_feed(settings: Settings, feed: str) -> SourceSpec:
    """The valid spec of `feed` (provider/table), or RunRefused naming its spec's mistakes or the feeds there are."""
    catalog = _catalog(settings)
    for loaded in catalog.feeds:
        if loaded.spec.key == feed:
            return loaded.spec
    provider, _, table = feed.partition("/")
    mistakes = [p for path, problems in catalog.invalid.items() if (path.parent.name, path.stem) == (provider, table) for p in problems]
    if mistakes:
        raise RunRefused(f"{feed}: its spec is invalid (run `carelake validate`):\n" + "\n".join(mistakes))
    known = ", ".join(sorted(loaded.spec.key for loaded in catalog.feeds))
    raise RunRefused(f"{feed}: no such feed under {settings.sources_dir} (FEED is provider/table; feeds: {known})")


def require_dagster_home() -> None:
    """RunRefused unless DAGSTER_HOME names the instance runs are recorded in (and reports read)."""
    if not os.environ.get("DAGSTER_HOME"):
        raise RunRefused("DAGSTER_HOME is not set: it names the Dagster instance runs are recorded in "
                         "(the Makefile sets $CARELAKE_HOME/dagster_home)")


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """`carelake run FEED --partition K | --file F`: 0 if the run succeeded, 1 if it failed, 2 if refused."""
    try:
        spec = find_feed(settings, args.feed)
        if args.file is not None:
            key = partition_of_file(spec, place_file(settings, spec, args.file))
        else:
            key = find_delivered(settings, spec, args.partition) if spec.cadence is Cadence.adhoc else args.partition
        key = check_partition(spec, key)
        require_dagster_home()
    except RunRefused as exc:
        print(f"carelake run: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("dagster").setLevel(logging.WARNING)
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:
        summary = materialize_feed(defs, instance, spec, [key], DeltaLake(root=settings.lake_root))
    print(format_run(summary, [key]))
    return 0 if summary.success else 1


def format_run(summary: FeedSummary, keys: list[str]) -> str:
    """The per-table summary `carelake run` prints."""
    status = "ok" if summary.success else "FAILED"
    lines = [f"{summary.feed}  partition {', '.join(keys)}  run {summary.run_id[:8]}: {status}"]
    quarantined = ", ".join(f"{reason} {n}" for reason, n in summary.quarantine_by_reason.items())
    lines += [
        f"  landed       {summary.files_landed} file version(s)",
        f"  raw          {summary.rows_raw} rows",
        f"  quarantine   {summary.rows_quarantined} rows" + (f" ({quarantined})" if quarantined else ""),
        f"  transformed  {summary.rows_transformed} rows",
        f"  checks       {summary.checks_passed} passed, {summary.checks_failed} failed"
        + (f": {', '.join(summary.failed_checks)}" if summary.failed_checks else ""),
    ]
    if summary.warnings:
        lines += ["", "warnings:", *(f"  {line}" for line in summary.warnings)]
    if summary.failure:
        lines += ["", "the run failed:", *(f"  {line}" for line in summary.failure.splitlines())]
    return "\n".join(lines)


