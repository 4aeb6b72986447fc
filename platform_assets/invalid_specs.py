"""Invalid spec files, visible in the UI instead of taking the code location down: each becomes a
placeholder asset `invalid_spec/<path>` (group `invalid_specs`) whose description lists its mistakes,
and the `carelake_spec_errors` sensor fails every tick while any remain (the UI's sensor error, and
the daemon's log). `CARELAKE_STRICT_SPECS=1` fails the whole location instead, as `carelake validate`
and CI do."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import dagster as dg

from carelake.spec.loading import Catalog

log = logging.getLogger("carelake")
GROUP = "invalid_specs"


class InvalidSpecs(Exception):
    """Spec files that were not loaded; their feeds do not run until they are fixed."""


def invalid_spec_assets(catalog: Catalog, sources_dir: Path) -> list[dg.AssetSpec]:
    """One placeholder asset per invalid file, its mistakes as description and metadata."""
    assets = []
    for path, problems in sorted(catalog.invalid.items()):
        try:
            parts = path.relative_to(sources_dir).with_suffix("").parts
        except ValueError:
            parts = (path.stem,)
        key = dg.AssetKey(["invalid_spec", *[re.sub(r"[^A-Za-z0-9_]", "_", p) or "_" for p in parts]])
        log.error("carelake: %s is invalid and was not loaded:\n  %s", path, "\n  ".join(problems))
        assets.append(
            dg.AssetSpec(
                key,
                group_name=GROUP,
                description="This spec file is invalid, so its feed is not loaded (the other feeds are). Fix it, then "
                "reload definitions; `carelake validate` shows the same:\n\n" + "\n".join(f"- {p}" for p in problems),
                metadata={"spec_file": dg.MetadataValue.path(str(path)), "problems": problems},
                tags={"carelake/invalid_spec": "true"},
            )
        )
    return assets


def spec_errors_sensor(catalog: Catalog) -> dg.SensorDefinition:
    """A sensor that fails each tick, naming every invalid file, so the error stays in sight."""
    problems = catalog.problems

    @dg.sensor(name="carelake_spec_errors", minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Fails while a spec file under sources/ is invalid (its feed is not loaded).")
    def carelake_spec_errors(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        # The first line names the files (alerts quote only a first line); the problems follow.
        files = ", ".join("/".join(Path(path).parts[-2:]) for path in sorted(catalog.invalid))  # provider/table.yaml
        raise InvalidSpecs(f"{len(catalog.invalid)} spec file(s) invalid, their feeds not loaded: {files}\n  " + "\n  ".join(problems))

    return carelake_spec_errors
