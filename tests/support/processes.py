"""Ending a child process a test started, without leaving it behind for the next test."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

STOP_TIMEOUT_S = 30


def terminate(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM, then the exit status. A process still running after ``timeout`` is a failure of its own; it is
    killed first, so a hung agent fails this test only and is not reported later as a stray subprocess."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"{process.args!r} was still running {timeout:g} s after SIGTERM") from None
