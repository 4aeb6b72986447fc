"""`dagster dev` as a user starts it, in its own process group, for the tests that meet the real UI and
daemon; and waiting for what it does, with its log in the failure when it does not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.servers import free_port

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, log: Path | None = None) -> T:
    """`check()`'s first true value, polled each second; fails the test after `timeout` s (with the log's tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(1)
    said = f"; dagster dev said:\n{log.read_text()[-4000:]}" if log is not None else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{said}")


@contextmanager
def dagster_dev(workspace: Path | str, env: dict[str, str], cwd: Path, log: Path,
                port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`dagster dev -w workspace` on `port` (default: a free one): (its URL, the process), stopped (its whole
    process group) afterwards."""
    port = port or free_port()
    with log.open("w") as out:
        dev = subprocess.Popen([Path(sys.executable).with_name("dagster"), "dev", "-w", str(workspace), "-p", str(port)],
                               env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", dev
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
