"""The `carelake` command: validate specs, simulate deliveries, run the demo."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
from pathlib import Path

from carelake.settings import Settings
from carelake.spec.loading import SpecError, load_catalog, load_specs
from carelake.spec.platform import PLATFORM_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carelake", description="Healthcare feeds as Dagster assets.")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check every source spec; exit 1 with readable errors")
    validate.add_argument("--sources", type=Path, help="sources folder (default: $CARELAKE_SOURCES_DIR or ./sources)")

    simulate = sub.add_parser("simulate", help="write simulated deliveries for every feed into the landing folder")
    simulate.add_argument("--start", type=dt.date.fromisoformat, required=True)
    simulate.add_argument("--end", type=dt.date.fromisoformat, required=True, help="exclusive")
    simulate.add_argument("--fault-rate", type=float, default=0.0)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--feed", action="append", help="provider/table (default: all)")
    simulate.add_argument("--fault", action="append", default=[], metavar="KIND=RATE",
                          help="inject a fault kind at a rate, e.g. truncated=0.1 or malformed_date=0.01 (repeatable)")
    simulate.add_argument("--rows", type=int, default=50, help="rows per delivery (rosters: the member pool)")
    simulate.add_argument("--volume-gb", type=float, help="volume mode: write one file of this size per feed into --out")
    simulate.add_argument("--out", type=Path, help="folder for volume mode files")

    demo = sub.add_parser("demo", help="simulate a month and materialize every partition through Dagster")
    demo.add_argument("--month", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1), help="any day of the month")
    demo.add_argument("--fault-rate", type=float, default=0.01)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--feed", action="append", help="provider/table: run only these feeds as a sandbox (default: all)")

    profile = sub.add_parser("profile", help="profile a new file: types, nulls, PHI; write a draft source YAML")
    profile.add_argument("file", type=Path)
    profile.add_argument("--provider", default="new_provider", help="provider of the draft spec (default: new_provider)")
    profile.add_argument("--table", help="table of the draft spec (default: from the file name)")
    profile.add_argument("--owner", default="team:data-onboarding", help="owner of the draft spec")
    profile.add_argument("--out", type=Path, help="draft YAML path (default: <sources>/<provider>/<table>.yaml)")
    profile.add_argument("--sources", type=Path, help="sources folder (default: $CARELAKE_SOURCES_DIR or ./sources)")

    run = sub.add_parser("run", help="ingest real delivered files of one feed and partition through Dagster")
    run.add_argument("feed", metavar="FEED", help="provider/table")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--partition", metavar="K", help="partition key: a window start (YYYY-MM-DD) or, adhoc, the file name")
    which.add_argument("--file", metavar="F", help="a delivered file: copied into the feed's landing folder, its partition from its name")

    report = sub.add_parser("report", help="a data-quality report for the provider: files, rows, quarantine, drift, deliveries")
    report.add_argument("feed", metavar="FEED", help="provider/table")
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--partition", metavar="K", help="one partition (default: every landed partition)")
    scope.add_argument("--file", metavar="F", help="the partition of this delivered file (its name, or a path)")
    report.add_argument("--format", choices=["markdown", "html"], default="markdown")
    report.add_argument("--out", type=Path, help="write the report to this file (default: standard output)")

    from carelake.tools import alerts

    alerts.add_parser(sub)

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if getattr(args, "sources", None):
        settings = dataclasses.replace(settings, sources_dir=args.sources)
    commands = {"validate": _validate, "simulate": _simulate, "demo": _demo, "profile": _profile, "run": _run, "report": _report,
                "alerts": alerts.alerts_command}
    try:
        return commands[args.command](settings, args)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1


def _validate(settings: Settings, args: argparse.Namespace) -> int:
    catalog = load_catalog(settings.sources_dir)  # one read of sources/: the feeds and the platform config
    if catalog.invalid:
        raise SpecError(catalog.problems)
    for loaded in catalog.feeds:
        print(f"ok  {loaded.spec.key:40} {loaded.spec.cadence.value:10} {len(loaded.spec.columns)} columns  ({loaded.path})")
    print(f"ok  platform config: {len(catalog.platform.teams)} teams ({settings.sources_dir / PLATFORM_FILE})")
    print(f"{len(catalog.feeds)} source specs are valid")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from carelake.tools.simulation import Fault, FaultRates, Simulator
    from carelake.tools.simulation.volume import write_volume

    try:
        rates = {Fault(kind): float(rate) for kind, rate in (item.split("=", 1) for item in args.fault)}
    except ValueError:
        print(f"--fault takes KIND=RATE with KIND one of {[f.value for f in Fault]}", file=sys.stderr)
        return 2
    faults = FaultRates(rates) if rates else FaultRates.quarantinable(args.fault_rate)
    simulator = Simulator(settings.landing_root, seed=args.seed, rows_per_delivery=args.rows, member_pool=max(args.rows * 4, 200))
    for loaded in load_specs(settings.sources_dir):
        spec = loaded.spec
        if args.feed and spec.key not in args.feed:
            continue
        if args.volume_gb:
            if args.out is None:
                print("--volume-gb needs --out FOLDER", file=sys.stderr)
                return 2
            args.out.mkdir(parents=True, exist_ok=True)
            out = args.out / f"{spec.provider}__{spec.table}.{spec.format.kind}"
            report = write_volume(spec, out, int(args.volume_gb * 1e9), (args.start, args.end), seed=args.seed)
            print(f"{spec.key}: {report.rows:,} rows, {report.bytes / 1e9:.2f} GB, {report.rows_per_s:,.0f} rows/s -> {out}")
            continue
        report = simulator.simulate(spec, args.start, args.end, faults=faults)
        print(f"{spec.key}: {len(report.deliveries)} deliveries, {report.rows} rows, {report.faulty_rows} rows to quarantine, "
              f"faults injected: {report.by_fault() or 'none'}")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    import dagster as dg

    from carelake.tools.demo import format_masking, format_refusals, format_summary, run_demo
    from resources.lake import DeltaLake

    logging.getLogger("dagster").setLevel(logging.WARNING)
    from carelake.tools.alerts import demo_alerts

    with dg.DagsterInstance.get() as instance:
        summaries, refusals = run_demo(settings, instance, args.month, args.fault_rate, args.seed, feeds=args.feed)
        alerts = demo_alerts(settings, instance, args.month.replace(day=1), [s.feed for s in summaries]) if summaries else ""
    if summaries:
        print(format_summary(summaries))
        demoed = {s.feed for s in summaries}
        specs = [loaded.spec for loaded in load_specs(settings.sources_dir) if loaded.spec.key in demoed]
        print("\n" + format_masking(specs, DeltaLake(root=settings.lake_root)))
        print("\n" + alerts)
    if refusals:
        print(("\n" if summaries else "") + format_refusals(refusals), file=sys.stderr if not summaries else sys.stdout)
    print(f"\nlake: {settings.lake_root}\nlanding: {settings.landing_root}\nnext: `make dev` to browse the assets")
    # A feed named with --feed that was not demoed, or a spec the simulator failed on, fails the command.
    refused = any(r.error for r in refusals) or (args.feed and refusals)
    return 0 if summaries and all(s.success for s in summaries) and not refused else 1


def _profile(settings: Settings, args: argparse.Namespace) -> int:
    from carelake.tools.profiling.command import profile_command

    return profile_command(settings, args)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from carelake.tools.run import run_command

    return run_command(settings, args)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from carelake.tools.report import report_command

    return report_command(settings, args)


if __name__ == "__main__":
    sys.exit(main())
