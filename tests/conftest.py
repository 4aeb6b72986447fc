"""Fixtures: a fresh lake, landing folder and sources folder per test, and a real Dagster instance."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from carelake.settings import PROJECT_ROOT, Settings
from platform_assets.assembly import build_definitions

REPO_SOURCES = PROJECT_ROOT / "sources"
os.environ.setdefault("CARELAKE_HMAC_KEY", "test-key-not-a-secret")  # as the Makefile sets it for the embedded profile
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


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


def write_spec(settings: Settings, provider: str, table: str, body: str) -> Path:
    path = settings.sources_dir / provider / f"{table}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def deliver(settings: Settings, folder: str, name: str, text: str) -> Path:
    path = settings.landing_root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def feed_def(settings: Settings, provider: str, table: str) -> tuple[dg.Definitions, dg.AssetsDefinition]:
    defs = build_definitions(settings)
    return defs, defs.resolve_assets_def(dg.AssetKey(["raw", provider, table]))


def materialize(
    assets: dg.AssetsDefinition, instance: dg.DagsterInstance, *, partition: str | None = None,
    layers: tuple[str, ...] = ("landed", "raw", "transformed"), tags: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Run selected layers of a feed (and their checks) through Dagster for one partition."""
    provider, table = next(iter(assets.keys)).path[1:]
    selection = dg.AssetSelection.assets(*[[layer, provider, table] for layer in layers])
    return dg.materialize(
        [assets], instance=instance, partition_key=partition, selection=selection, tags=tags, raise_on_error=False
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure's message, with its chain of causes."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error is not None:
                lines.append(error.message)
                error = error.cause
    return "\n".join(lines)


IN_CI = os.environ.get("CI") == "true"
