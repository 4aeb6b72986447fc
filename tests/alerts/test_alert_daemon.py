"""Alerting as `dagster dev` runs it: feeds in two code locations, a location that fails to load, a
sensor that fails every tick, and the one alert location. The real daemon ticks the real sensors;
the Slack recorder shows each problem told once (not once per location) to the platform operators."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from carelake.settings import PROJECT_ROOT
from tests.support.alerting import PAGERDUTY_ENV, PAGERDUTY_KEY, SLACK_TOKEN
from tests.support.dagster_dev import dagster_dev, wait_until
from tests.support.servers import free_port


def _wait(check, timeout: float, what: str, log: Path):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; dagster dev said:\n{log.read_text()[-4000:]}")


def test_one_alert_location_tells_a_broken_location_and_a_failing_sensor_once(alert_settings, alert_http, tmp_path):
    sources = alert_settings.sources_dir
    (sources / "testco").mkdir(exist_ok=True)
    (sources / "testco" / "broken.yaml").write_text("provider: testco\ntable: broken\ncadence: hourly\n")  # invalid
    other = tmp_path / "other_sources"
    (other / "otherco").mkdir(parents=True)
    (other / "otherco" / "feed.yaml").write_text((sources / "acme_health" / "claims.yaml").read_text()
                                                 .replace("provider: acme_health", "provider: otherco").replace("table: claims", "table: feed"))
    (tmp_path / "other_location.py").write_text(textwrap.dedent(f"""\
        from carelake.settings import Settings
        from platform_assets.assembly import build_definitions

        defs = build_definitions(Settings(sources_dir={str(other)!r}, lake_root={str(tmp_path / 'lake')!r},
                                          landing_root={str(tmp_path / 'landing')!r}))
        """))
    (tmp_path / "broken_location.py").write_text("raise ImportError('a dependency of this location is missing')\n")
    (tmp_path / "workspace.yaml").write_text(textwrap.dedent(f"""\
        load_from:
          - python_module: {{module_name: platform_assets.definitions, attribute: defs, location_name: feeds, working_directory: {PROJECT_ROOT}}}
          - python_file: {{relative_path: other_location.py, location_name: other_feeds, working_directory: {PROJECT_ROOT}}}
          - python_file: {{relative_path: broken_location.py, location_name: broken}}
          - python_module: {{module_name: sensors.alert_location, attribute: defs, location_name: carelake_alerts, working_directory: {PROJECT_ROOT}}}
        """))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.local.yaml").read_text())
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "CARELAKE_HOME": str(alert_settings.home), "CARELAKE_SOURCES_DIR": str(sources),
           "CARELAKE_LAKE_ROOT": alert_settings.lake_root, "CARELAKE_LANDING_ROOT": str(alert_settings.landing_root),
           "CARELAKE_ALERTS_DB": alert_settings.alerts_url, "CARELAKE_ALERT_DELIVERY": "send",
           "CARELAKE_DAGSTER_URL": f"http://127.0.0.1:{port}", "SLACK_BOT_TOKEN": SLACK_TOKEN, PAGERDUTY_ENV: PAGERDUTY_KEY}
    env.pop("CARELAKE_STRICT_SPECS", None)
    log = tmp_path / "dagster_dev.log"
    with dagster_dev(tmp_path / "workspace.yaml", env, tmp_path, log, port) as (_, dev):
        def told() -> dict[str, list[str]]:
            texts = [m["text"] for m in alert_http.slack if m["channel"] == "#data-platform"]
            return {"location": [t for t in texts if "Code location broken failed to load" in t],
                    "sensor": [t for t in texts if "Sensor carelake_spec_errors in feeds is failing" in t]}

        wait_until(lambda: dev.poll() is not None or all(told().values()), 420, "the location and sensor alerts", log)
        assert dev.poll() is None, log.read_text()[-4000:]
        time.sleep(35)  # another alert tick (every 30 s): still told once
        found = told()
        assert len(found["location"]) == 1 and len(found["sensor"]) == 1, found
        # The error's class and where, its quoted text stripped (a message may quote data): without_values.
        assert "Error: DagsterImportError: Encountered ImportError" in found["location"][0]
        assert "a dependency of this location is missing" not in found["location"][0]
        assert "Error: InvalidSpecs: 1 spec file(s) invalid, their feeds not loaded: testco/broken.yaml" in found["sensor"][0]
