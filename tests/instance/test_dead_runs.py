"""Runs whose process was killed end FAILED instead of STARTED forever: both shipped instance profiles
enable run monitoring with carelake's MonitoredRunLauncher (DefaultRunLauncher has no health check),
and the monitoring daemon's iteration marks a SIGKILLed run failed while leaving a live one alone."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import signal
import time

import dagster as dg
import pytest
import yaml
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

from carelake.settings import PROJECT_ROOT
from resources.run_launcher import MonitoredRunLauncher
from tests.support.servers import free_port
from tests.support.processes import run_stuck


def _profile(name: str) -> dict:
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / f"dagster.{name}.yaml").read_text())
    config.pop("storage", None)  # the Postgres profile's storage is tested in test_production_instance
    return config


@pytest.mark.parametrize(("name", "checks_process"), [("local", True), ("postgres", False)])
def test_both_shipped_profiles_monitor_runs_and_queue_one_run_per_feed(tmp_path, name, checks_process):
    with dg.instance_for_test(overrides=_profile(name), temp_dir=str(tmp_path)) as instance:
        assert isinstance(instance.run_launcher, MonitoredRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_launcher.check_process is checks_process
        assert instance.run_monitoring_enabled and "MONITORING" in instance.get_required_daemon_types()
        assert instance.run_monitoring_max_resume_run_attempts == 0  # DefaultRunLauncher cannot resume
        assert instance.run_monitoring_start_timeout_seconds > 0 and instance.run_monitoring_cancel_timeout_seconds > 0
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "carelake/feed", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


class _Workspace:
    """What the monitoring iteration needs of the daemon's workspace (resuming runs is off)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance

    def create_request_context(self) -> None:
        return None


def _monitor(instance: dg.DagsterInstance) -> None:
    for error in execute_run_monitoring_iteration(_Workspace(instance), logging.getLogger("monitoring")):
        assert error is None, error


def test_a_run_whose_process_was_killed_is_marked_failed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(_profile("local")))
    proc = mp.get_context("spawn").Process(target=run_stuck, args=(str(home),))
    proc.start()
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = _wait(lambda: next(iter(instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))), None))
            _monitor(instance)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # alive: left alone

            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # nothing reported its end

            # The Postgres profile cannot see another machine's processes: a CLI run is left to max_runtime_seconds,
            # a launched run is failed once its code server has not known it for dead_after_seconds.
            remote = MonitoredRunLauncher(check_process=False, dead_after_seconds=0)
            remote.register_instance(instance)
            assert remote.check_run_worker_health(run).status == WorkerStatus.RUNNING
            instance.add_run_tags(run.run_id, {GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": free_port()})})
            launched = instance.get_run_by_id(run.run_id)
            assert remote.check_run_worker_health(launched).status == WorkerStatus.FAILED
            patient = MonitoredRunLauncher(check_process=False, dead_after_seconds=600)
            patient.register_instance(instance)
            assert patient.check_run_worker_health(launched).status == WorkerStatus.RUNNING

            # The local profile looks the process up: the daemon's next iteration marks the run failed.
            _monitor(instance)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
            messages = [e.message for e in instance.all_logs(run.run_id)]
            assert any(f"(pid {proc.pid}) no longer exists" in (m or "") for m in messages), messages
    finally:
        if proc.is_alive():
            proc.kill()


def test_a_reused_pid_is_not_the_runs_process():
    from resources.run_launcher import process_alive

    assert process_alive(os.getpid(), started_by=time.time())
    assert not process_alive(os.getpid(), started_by=time.time() - 10 * 24 * 3600)  # this process started later
    assert not process_alive(2**22 + 1, started_by=time.time())  # above pid_max: no such process


def _wait(check, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while (value := check()) is None:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    return value
