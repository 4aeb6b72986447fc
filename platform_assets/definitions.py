"""The code location: `platform_assets.definitions:defs`, a lazy root (importing this module builds
nothing; the code server calls `defs()` when it loads the location) over the environment's settings."""

import dagster as dg

from carelake.settings import Settings
from platform_assets.assembly import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    """Every feed under the settings' sources folder, with the lake, the channels and the sensors."""
    return build_definitions(Settings.from_env())
