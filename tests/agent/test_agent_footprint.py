"""The agent's own CPU and memory (``agent.footprint``, shown by ``staffpulse status``) agree with what the OS
says about this process through other means: ``os.times`` and /proc's resident set."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agent.footprint import own_footprint
from support.procfs import resident_mb


def test_cpu_and_memory_match_the_os() -> None:
    spent = time.process_time() + 0.3
    while time.process_time() < spent:  # some CPU time to measure
        pass
    before = os.times()
    footprint = own_footprint()
    after = os.times()
    create = float(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    boot = next(float(x.split()[1]) for x in Path("/proc/stat").read_text().splitlines() if x.startswith("btime"))
    running = time.time() - (boot + create)
    low = (before.user + before.system) / (running + 1) * 100
    high = (after.user + after.system) / max(running - 1, 0.1) * 100
    assert low * 0.9 <= footprint.cpu_percent <= high * 1.1 + 0.01, (low, footprint, high)
    assert footprint.cpu_percent > 0
    rss = resident_mb(os.getpid())
    assert abs(footprint.memory_mb - rss) <= max(2.0, rss * 0.05), (footprint, rss)
