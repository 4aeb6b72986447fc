"""The code location: `platform_assets.definitions:defs`, built from the environment's settings."""

from platform_assets.assembly import build_definitions
from platform_assets.settings import Settings

defs = build_definitions(Settings.from_env())
