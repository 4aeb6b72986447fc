"""Where things live, decided in one place from environment variables (defaults: the embedded profile)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    sources_dir: Path
    lake_root: str
    landing_root: Path
    cache_dir: Path | None = None
    # Fail the whole code location on one invalid spec file (as `carelake validate` and CI do); by
    # default the location loads every valid feed and shows each invalid file on a placeholder asset.
    strict_specs: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("CARELAKE_HOME", PROJECT_ROOT / ".carelake"))
        return cls(
            sources_dir=Path(os.environ.get("CARELAKE_SOURCES_DIR", PROJECT_ROOT / "sources")),
            lake_root=os.environ.get("CARELAKE_LAKE_ROOT", str(home / "lake")),
            landing_root=Path(os.environ.get("CARELAKE_LANDING_ROOT", home / "landing")),
            cache_dir=home / "cache",
            strict_specs=os.environ.get("CARELAKE_STRICT_SPECS", "") not in ("", "0", "false"),
        )

    @property
    def spec_cache_file(self) -> Path | None:
        """Where validated specs of this sources folder are cached between loads (None: no cache)."""
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(str(self.sources_dir.resolve()).encode()).hexdigest()[:16]
        return self.cache_dir / f"specs-{key}.pickle"
