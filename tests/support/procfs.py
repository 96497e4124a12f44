"""A process's resident memory read straight from Linux's /proc, to check what psutil reports against."""

from __future__ import annotations

from pathlib import Path


def resident_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024  # the line is in kB
