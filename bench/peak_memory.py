"""A benchmark step's own peak memory, shared by the scripts that run each step in its own process."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (`VmHWM`), in MB. Not `ru_maxrss`: on Linux a child inherits it
    from its parent at fork, so a step forked by a parent that generated the data reads at least the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
