"""The `carelake` command: validate specs, simulate deliveries, run the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from platform_assets.catalog import SpecError, load_specs
from platform_assets.settings import Settings


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

    demo = sub.add_parser("demo", help="simulate a month and materialize every partition through Dagster")
    demo.add_argument("--month", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1), help="any day of the month")
    demo.add_argument("--fault-rate", type=float, default=0.01)
    demo.add_argument("--seed", type=int, default=0)

    profile = sub.add_parser("profile", help="profile a new file: types, nulls, PHI; write a draft source YAML")
    profile.add_argument("file", type=Path)
    profile.add_argument("--provider", default="new_provider", help="provider of the draft spec (default: new_provider)")
    profile.add_argument("--table", help="table of the draft spec (default: from the file name)")
    profile.add_argument("--owner", default="team:data-onboarding", help="owner of the draft spec")
    profile.add_argument("--out", type=Path, help="draft YAML path (default: <sources>/<provider>/<table>.yaml)")
    profile.add_argument("--sources", type=Path, help="sources folder (default: $CARELAKE_SOURCES_DIR or ./sources)")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if getattr(args, "sources", None):
        settings = Settings(args.sources, settings.lake_root, settings.landing_root)
    try:
        return {"validate": _validate, "simulate": _simulate, "demo": _demo, "profile": _profile}[args.command](settings, args)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1


def _validate(settings: Settings, args: argparse.Namespace) -> int:
    specs = load_specs(settings.sources_dir)
    for loaded in specs:
        print(f"ok  {loaded.spec.key:40} {loaded.spec.cadence.value:10} {len(loaded.spec.columns)} columns  ({loaded.path})")
    print(f"{len(specs)} source specs are valid")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from platform_assets.simulator import Simulator

    simulator = Simulator(settings.landing_root, seed=args.seed)
    for loaded in load_specs(settings.sources_dir):
        if args.feed and loaded.spec.key not in args.feed:
            continue
        report = simulator.simulate(loaded.spec, args.start, args.end, fault_rate=args.fault_rate)
        print(f"{loaded.spec.key}: {len(report.deliveries)} deliveries, {report.rows} rows, {report.faulty_rows} faulty rows")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    import dagster as dg

    from platform_assets.demo import format_summary, run_demo

    logging.getLogger("dagster").setLevel(logging.WARNING)
    with dg.DagsterInstance.get() as instance:
        summaries = run_demo(settings, instance, args.month, args.fault_rate, args.seed)
    print(format_summary(summaries))
    print(f"\nlake: {settings.lake_root}\nlanding: {settings.landing_root}\nnext: `make dev` to browse the assets")
    return 0 if summaries and all(s.success for s in summaries) else 1


def _profile(settings: Settings, args: argparse.Namespace) -> int:
    from platform_assets.profiling_cli import profile_command

    return profile_command(settings, args)


if __name__ == "__main__":
    sys.exit(main())
