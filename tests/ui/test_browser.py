"""The Dagster UI as a user meets it: `carelake demo`, then `dagster dev` on a free port, driven in Debian's
Chromium with Playwright (never a downloaded browser). Screenshots go to the test's tmp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from carelake.settings import PROJECT_ROOT
from carelake.spec.loading import load_specs
from tests.support.environment import IN_CI
from tests.support.dagster_dev import dagster_dev, wait_until

CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say: without the background-networking flags Chromium dials out and is refused.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BACKFILL = ["2026-10-05", "2026-10-06"]
FEEDS = ["acme_health/claims", "acme_health/members"]


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", json.dumps({"query": query}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def _location_loaded(base: str) -> bool:
    try:
        data = _graphql(base, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")
    except OSError:
        return False
    entries = data["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[tuple[str, dg.DagsterInstance, Path]]:
    """`make demo` (for two feeds) and `make dev` against a fresh instance: (UI URL, the instance, screenshot dir)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; `make install` installs Debian's chromium"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    # The shipped embedded profile, with Dagster's first-visit newsletter prompt off.
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.local.yaml").read_text() + "nux:\n  enabled: false\n")
    env = {**os.environ, "CARELAKE_HOME": str(root / "carelake"), "DAGSTER_HOME": str(home)}
    env.pop("CARELAKE_SOURCES_DIR", None)
    carelake = Path(sys.executable).with_name("carelake")
    demo = subprocess.run([carelake, "demo", *[a for f in FEEDS for a in ("--feed", f)]], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    shots = root / "screenshots"
    shots.mkdir()
    log = root / "dagster_dev.log"
    try:
        with dagster_dev("workspace.yaml", env, PROJECT_ROOT, log) as (base, dev):
            wait_until(lambda: dev.poll() is not None or _location_loaded(base), 120, "dagster dev to load the code location")
            assert dev.poll() is None, log.read_text()[-3000:]
            with dg.DagsterInstance.from_config(str(home)) as instance:
                yield base, instance, shots
    finally:
        print(f"screenshots: {shots}")


@pytest.fixture(scope="module")
def page(ui):  # noqa: ANN001, ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1600, "height": 1000})
        browser.close()


def _open(page, ui, path: str, shot: str, expect: str):  # noqa: ANN001, ANN202
    base, _, shots = ui
    page.goto(base + path)
    page.get_by_text(expect, exact=False).first.wait_for(timeout=60_000)
    page.screenshot(path=str(shots / f"{shot}.png"), full_page=True)
    return page.inner_text("body")


def test_the_catalog_lists_every_feeds_three_assets_grouped_by_provider(page, ui):
    text = _open(page, ui, "/assets", "catalog", "raw / acme_health / claims")
    for loaded in load_specs(PROJECT_ROOT / "sources"):
        spec = loaded.spec
        for layer in ("landed", "raw", "transformed"):
            assert f"{layer} / {spec.provider} / {spec.table}" in text
        assert spec.provider in text  # the asset group


def test_an_asset_page_shows_owner_columns_with_phi_badges_and_partitions(page, ui):
    # Waits for the column table itself (the page renders its sections one by one).
    text = _open(page, ui, "/assets/raw/acme_health/claims", "raw_claims", "Date of service, delivered as YYYYMMDD")
    assert "claims-data" in text  # the owner, team:claims-data
    assert "phi: member_id" in text and "phi: date" in text
    assert "Date of service, delivered as YYYYMMDD" in text  # the spec's column description
    text = _open(page, ui, "/assets/raw/acme_health/claims?view=partitions", "raw_claims_partitions", "Materialized (")
    assert "Materialized (31)" in text and "Failed (0)" in text


def test_the_checks_tab_shows_every_partition_passed_none_skipped(page, ui):
    path = "/assets/raw/acme_health/claims?view=checks&checkDetail=rows_accounted_for"
    text = _open(page, ui, path, "raw_claims_checks", "rows_accounted_for")
    assert "Skipped" not in text.split("rows_accounted_for", 1)[0]
    page.get_by_role("tab", name="Partitions").last.click()
    page.get_by_text("Passed (31)").wait_for(timeout=30_000)
    page.screenshot(path=str(ui[2] / "raw_claims_check_partitions.png"))
    text = page.inner_text("body")
    assert "Skipped (0)" in text and "Failed (0)" in text and "Execution Failed (0)" in text


def test_a_backfill_from_the_ui_re_materializes_exactly_its_transformed_partitions(page, ui):
    _, instance, shots = ui
    transformed = dg.AssetKey(["transformed", "acme_health", "claims"])
    before = {r.storage_id for r in instance.fetch_materializations(transformed, limit=1000).records}
    _open(page, ui, "/assets/raw/acme_health/claims", "before_backfill", "Columns")
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_placeholder("No matching partitions").fill(f"[{BACKFILL[0]}...{BACKFILL[1]}]")
    dialog.get_by_placeholder("No matching partitions").press("Enter")
    dialog.get_by_text("2 partitions").wait_for(timeout=10_000)
    page.screenshot(path=str(shots / "backfill_dialog.png"))
    dialog.get_by_role("button", name="Launch backfill").click()

    backfill = wait_until(lambda: next(iter(instance.get_backfills()), None), 60, "the backfill to be created")
    done = wait_until(lambda: (b := instance.get_backfill(backfill.backfill_id)).status != BulkActionStatus.REQUESTED and b, 240,
                 "the backfill to finish")
    assert done.status == BulkActionStatus.COMPLETED_SUCCESS, done.status
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)

    def automated() -> list[dg.EventLogRecord] | None:
        new = [r for r in instance.fetch_materializations(transformed, limit=1000).records if r.storage_id not in before]
        return new if {r.partition_key for r in new} >= set(BACKFILL) else None

    new = wait_until(automated, 240, "automation to re-materialize the backfilled partitions' transformed partitions")
    assert sorted(r.partition_key for r in new) == BACKFILL, "exactly the backfilled partitions, once each"
    for record in new:
        # The materialization is logged before its run finishes: wait for the run's end.
        run = wait_until(lambda r=record: (run := instance.get_run_by_id(r.run_id)).is_finished and run, 120, "the automation run to finish")
        assert "dagster/asset_evaluation_id" in run.tags, "launched by automation"
        assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags.get("dagster/backfill") != backfill.backfill_id
    # Nothing else was asked for: the demo's files, already landed, are not requested again by the arrival sensors.
    assert not [r for r in instance.get_runs() if r.tags.get("carelake/arrival")]

    text = _open(page, ui, "/assets/transformed/acme_health/claims?view=checks&checkDetail=primary_key_unique",
                 "transformed_checks", "primary_key_unique")
    page.get_by_role("tab", name="Partitions").last.click()
    page.get_by_text("Passed (31)").wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "transformed_check_partitions.png"))
    text = _open(page, ui, "/runs", "runs", "Success")
    assert "Failure" not in text


def test_freshness_shows_the_state_the_sensor_recorded_with_its_level(page, ui):
    import datetime as dt

    from sensors.freshness import FreshnessTarget, judge_target

    _, instance, shots = ui
    specs = {s.spec.key: s.spec for s in load_specs(PROJECT_ROOT / "sources")}
    for feed in FEEDS:
        target = FreshnessTarget.of(specs[feed])
        key = dg.AssetCheckKey(target.asset_key("raw"), "freshness")
        # The sensor (running by default) records every table's state at its first tick.
        record = wait_until(lambda k=key: instance.event_log_storage.get_latest_asset_check_execution_by_key([k]).get(k), 240,
                       f"the freshness sensor's evaluation of {feed}")
        told = record.event.dagster_event.event_specific_data
        expected = judge_target(instance, target, dt.datetime.now(dt.UTC))["raw"]  # the demo's month is long past
        assert (told.metadata["state"].value, told.partition) == (expected.state.value, expected.window)
        # The level the UI draws: a red cross for fail (ERROR), an orange triangle for warn (WARN).
        assert told.passed == expected.passed and told.severity.value == ("WARN" if expected.state.value == "warn" else "ERROR")
        path = f"/assets/raw/{feed}?view=checks&checkDetail=freshness"
        text = _open(page, ui, path, f"freshness_{feed.replace('/', '_')}", "freshness")
        assert expected.window in text and "Recorded by the carelake_freshness sensor" in text
