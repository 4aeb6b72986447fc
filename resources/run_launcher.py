"""A run launcher whose runs Dagster's monitoring daemon can health-check, so a run whose process was
killed (SIGKILL, OOM killer, a killed `dagster dev`) is marked FAILED instead of staying STARTED.

`DefaultRunLauncher` launches each run in a process of the code server and has no health check
(`supports_check_run_worker_health` is False): with it, run monitoring can only time runs out.
The code server notices a run process of its own that died, but nothing notices a run whose code
server died with it, nor a run executed in a CLI process that was killed. This launcher launches
exactly like `DefaultRunLauncher` and answers the health check:

- `check_process: true` (the local profile): the run's process is looked up on this machine: the
  pid of the process that started the run (its RUN_START event; a pid reused by a newer process
  does not count). Exact, and valid only when every Dagster process shares one machine, which a
  SQLite instance implies.
- `check_process: false` (the Postgres profile, where the daemon may run elsewhere): the code
  server that launched the run is asked whether it still executes it. A run it does not know, or
  whose server has not answered, for `dead_after_seconds` in a row is reported failed. A run with no
  code server (executed in a CLI process) cannot be checked from another machine and is reported
  running; `max_runtime_seconds` bounds it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from dagster import Field
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes.config_class import ConfigurableClassData


class MonitoredRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` plus a run worker health check for the run monitoring daemon (see the module)."""

    def __init__(
        self, inst_data: ConfigurableClassData | None = None, check_process: bool = True, dead_after_seconds: int = 120
    ):
        super().__init__(inst_data=inst_data)
        self.check_process = check_process
        self.dead_after_seconds = dead_after_seconds
        self._dead_since: dict[str, float] = {}

    @classmethod
    def config_type(cls) -> dict:
        return {
            "check_process": Field(bool, is_required=False, default_value=True,
                                   description="look the run's process up on this machine (all Dagster processes on one host)"),
            "dead_after_seconds": Field(int, is_required=False, default_value=120,
                                        description="how long a code server must not know a run before it is reported failed"),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> MonitoredRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = self._run_start(run.run_id)
        if started is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run has not started its process yet")
        pid, at = started
        if self.check_process:
            if process_alive(pid, started_by=at):
                return CheckRunHealthResult(WorkerStatus.RUNNING, f"run process {pid} is alive", run_worker_id=str(pid))
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the run's process (pid {pid}) no longer exists: it was killed or crashed without reporting an end",
                run_worker_id=str(pid),
            )
        answer = self._owner_answer(run)
        if answer is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server to ask (a run executed in a CLI process)")
        if answer is True:
            self._dead_since.pop(run.run_id, None)
            return CheckRunHealthResult(WorkerStatus.RUNNING, "its code server executes it")
        first = self._dead_since.setdefault(run.run_id, time.time())
        if time.time() - first < self.dead_after_seconds:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"{answer}; reported failed if still so after {self.dead_after_seconds}s")
        self._dead_since.pop(run.run_id, None)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"{answer} for {self.dead_after_seconds}s: its process is gone")

    def _run_start(self, run_id: str) -> tuple[int, float] | None:
        """(pid, timestamp) of the process that started the run, from its RUN_START event."""
        records = self._instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
        if not records or records[0].event_log_entry.dagster_event is None:
            return None
        entry = records[0].event_log_entry
        pid = entry.dagster_event.pid
        return (pid, entry.timestamp) if pid is not None else None

    def _owner_answer(self, run: DagsterRun) -> bool | str | None:
        """True if the code server that launched the run executes it, else why not; None: no code server."""
        from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
        from dagster._serdes import deserialize_value

        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:
            return None
        try:
            result = deserialize_value(
                client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id), timeout=10), CanCancelExecutionResult
            )
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server is the answer itself
            return f"its code server did not answer ({type(exc).__name__})"
        return True if result.can_cancel else "its code server does not execute it"


def process_alive(pid: int, started_by: float) -> bool:
    """Whether process `pid` exists, is not a zombie, and started no later than `started_by` (a reused
    pid belongs to a newer process). Without /proc (macOS), existence alone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return False
    ticks = int(fields[19])  # starttime, field 22 of proc(5), in clock ticks since boot
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK") <= started_by + 2.0


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")
