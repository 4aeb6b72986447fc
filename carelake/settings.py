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
    # The alert outbox (any SQLAlchemy URL; PostgreSQL in production) and how alerts leave it:
    # "local" appends every message to `alerts_sink` (the embedded default: no credentials needed),
    # "send" delivers to Slack, SMTP and PagerDuty as sources/_platform.yaml configures them.
    alerts_db: str | None = None
    alert_delivery: str = "local"
    home: Path | None = None
    # The Dagster UI's address for links in alerts and the code-location check: CARELAKE_DAGSTER_URL,
    # else sources/_platform.yaml's alerts.dagster_url.
    dagster_url: str | None = None

    def __post_init__(self) -> None:
        if self.alert_delivery not in ("local", "send"):
            raise ValueError(f"CARELAKE_ALERT_DELIVERY is {self.alert_delivery!r}; use 'local' (the sink file) or 'send'")

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("CARELAKE_HOME", PROJECT_ROOT / ".carelake"))
        return cls(
            sources_dir=Path(os.environ.get("CARELAKE_SOURCES_DIR", PROJECT_ROOT / "sources")),
            lake_root=os.environ.get("CARELAKE_LAKE_ROOT", str(home / "lake")),
            landing_root=Path(os.environ.get("CARELAKE_LANDING_ROOT", home / "landing")),
            cache_dir=home / "cache",
            strict_specs=os.environ.get("CARELAKE_STRICT_SPECS", "") not in ("", "0", "false"),
            alerts_db=os.environ.get("CARELAKE_ALERTS_DB") or None,
            alert_delivery=os.environ.get("CARELAKE_ALERT_DELIVERY", "local"),
            dagster_url=os.environ.get("CARELAKE_DAGSTER_URL") or None,
            home=home,
        )

    @property
    def alerts_url(self) -> str:
        """The outbox database: CARELAKE_ALERTS_DB, else a SQLite file in the carelake home."""
        if self.alerts_db:
            return self.alerts_db
        if self.home is None:
            raise ValueError("Settings without a home need alerts_db (a SQLAlchemy URL for the alert outbox)")
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.home / 'alerts.db'}"

    @property
    def alerts_sink(self) -> Path | None:
        """Where "local" delivery writes messages (None: they are sent)."""
        if self.alert_delivery == "send":
            return None
        return (self.home or Path(self.lake_root).parent) / "alerts" / "sent.jsonl"

    @property
    def spec_cache_file(self) -> Path | None:
        """Where validated specs of this sources folder are cached between loads (None: no cache)."""
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(str(self.sources_dir.resolve()).encode()).hexdigest()[:16]
        return self.cache_dir / f"specs-{key}.pickle"
