"""What the agent itself costs the machine: its CPU time and memory, for ``staffpulse status``.

Staff ask whether the tracker slows their PC and IT asks what it costs across a fleet; the answer should come
from the agent, not a guess. CPU is the process's user + system time divided by how long it has run (percent of
one core, averaged since it started: what it costs over a day, not the spike of the moment); memory is the
resident set, what Task Manager and top show. psutil reads both the same way on Windows, macOS and Linux.
"""

from __future__ import annotations

import dataclasses
import time

import psutil


@dataclasses.dataclass(frozen=True)
class Footprint:
    cpu_percent: float  # of one core, averaged since the process started
    memory_mb: float  # resident set size, MiB


def own_footprint(process: psutil.Process | None = None) -> Footprint:
    process = process or psutil.Process()
    with process.oneshot():
        times = process.cpu_times()
        running_s = max(time.time() - process.create_time(), 1e-3)
        rss = process.memory_info().rss
    return Footprint(cpu_percent=round((times.user + times.system) / running_s * 100, 2),
                     memory_mb=round(rss / 2**20, 1))
