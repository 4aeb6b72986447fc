"""Fixtures: a fresh lake, landing folder and sources folder per test, and a real Dagster instance."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from carelake.settings import Settings
from tests.support.environment import REPO_SOURCES, unavailable

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over a copy of the repository's sources, with an empty lake and landing folder."""
    sources = tmp_path / "sources"
    shutil.copytree(REPO_SOURCES, sources)
    # Strict, as CI and `carelake validate` are: a spec mistake a test writes fails at once.
    return Settings(sources_dir=sources, lake_root=str(tmp_path / "lake"), landing_root=tmp_path / "landing", strict_specs=True)


@pytest.fixture
def instance(tmp_path: Path):
    """A persistent (SQLite) Dagster instance in a fresh folder."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty CARELAKE_HOME with its Dagster home, as `make demo` starts from; the lake and landing
    folder default under it."""
    home = tmp_path / "carelake"
    (home / "dagster_home").mkdir(parents=True)
    monkeypatch.setenv("CARELAKE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.delenv("CARELAKE_LAKE_ROOT", raising=False)
    monkeypatch.delenv("CARELAKE_LANDING_ROOT", raising=False)
    return home


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment a `carelake` command reads, pointing at the test's `settings` (sources copy, lake,
    landing folder) and a fresh DAGSTER_HOME; returns those settings."""
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    monkeypatch.setenv("CARELAKE_HOME", str(tmp_path / "carelake"))
    monkeypatch.setenv("CARELAKE_SOURCES_DIR", str(settings.sources_dir))
    monkeypatch.setenv("CARELAKE_LAKE_ROOT", settings.lake_root)
    monkeypatch.setenv("CARELAKE_LANDING_ROOT", str(settings.landing_root))
    monkeypatch.setenv("CARELAKE_STRICT_SPECS", "1")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return settings


@pytest.fixture
def postgres_url():
    """A fresh database on the local PostgreSQL server (dropped afterwards), as a SQLAlchemy URL."""
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **POSTGRES)
    except psycopg2.OperationalError as exc:
        unavailable(f"no PostgreSQL on 127.0.0.1:5432 ({exc})")
    admin.autocommit = True
    name = f"carelake_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
