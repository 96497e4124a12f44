"""Running one step of the MSI's life cycle under Wine as the Windows job runs it on Windows: ``python -m
installer.lifecycle_checks STEP MSI --log LOG --wine ARGS…`` in a prefix's Windows Python (docs/installer.md), for
tests/installer's life-cycle tests on the small payload and on the real signed product."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.wine import WinePrefix, windows_path

CHECK_TIMEOUT_S = 300


def lifecycle_step(prefix: WinePrefix, step: str, msi: Path, log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The checker's run of ``step`` with ``msi`` in ``prefix``, its verbose msiexec log at ``log``."""
    return prefix.python(["-m", "installer.lifecycle_checks", step, windows_path(msi), "--log", windows_path(log),
                          "--wine", *args], timeout=CHECK_TIMEOUT_S)


def passed(done: subprocess.CompletedProcess[str]) -> bool:
    """The checker found nothing wrong; its FAIL lines (or a traceback) show in the assertion otherwise."""
    assert done.returncode == 0 and done.stdout.startswith("ok   "), done.stdout + done.stderr
    return True
