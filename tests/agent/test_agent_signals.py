"""SIGTERM ends the agent even when it lands while the main thread holds the stop event's lock.

That moment is real: ``stop.wait`` holds the lock briefly on every sample, and a CI run once hung there for good
because the handler called ``stop.set()`` itself. The child process makes the moment certain by raising the
signal inside ``with stop._cond`` (the lock ``wait`` and ``set`` share).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import os, signal
from agent.signals import stop_on_signals

stop = stop_on_signals()
with stop._cond:
    os.kill(os.getpid(), signal.{name})
print("stopped" if stop.wait(10) else "not stopped")
"""


def test_a_signal_inside_the_events_lock_still_stops() -> None:
    for name in ("SIGTERM", "SIGINT"):
        try:
            done = subprocess.run([sys.executable, "-c", CHILD.format(name=name)], cwd=ROOT, capture_output=True,
                                  text=True, timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} inside the event's lock deadlocked the process") from None
        assert (done.returncode, done.stdout.strip()) == (0, "stopped"), done.stderr
