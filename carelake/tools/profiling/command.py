"""`carelake profile FILE`: print the profile report and write the draft source YAML."""

from __future__ import annotations

import argparse
import sys

from carelake.settings import Settings
from carelake.tools.profiling.draft_spec import draft_spec, slug, source_spec, to_yaml
from carelake.tools.profiling.profiler import profile_file
from carelake.tools.profiling.report import format_report


def profile_command(settings: Settings, args: argparse.Namespace) -> int:
    """Profile `args.file`; refuse to overwrite an existing spec; exit 1 with a readable error."""
    path = args.file
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 1
    try:
        profile = profile_file(path)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    table = args.table or slug(path.stem)
    spec = draft_spec(profile, args.provider, table, args.owner)
    out = args.out or settings.sources_dir / args.provider / f"{table}.yaml"
    print(format_report(profile, source_spec(spec, args.provider, table)))
    if out.exists():
        print(f"\n{out} exists; not overwritten. Pass --out to write the draft elsewhere.", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_yaml(spec, profile))
    print(f"\ndraft spec: {out}\nnext: review it, then `carelake validate`")
    return 0
