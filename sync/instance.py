"""One agent per user session: an OS lock on a file in the data dir, held for the life of the process.

The control channel finds an agent that is already running, but two launches at the same moment (a login
item and a click, an MSI starting the agent while the user does) would both find nobody and both start. An
OS file lock decides that race atomically, and the OS drops it when the process ends, however it ends, so a
crashed agent never leaves a stale lock behind. ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows: the
two lines that differ are chosen here by platform, like ``agent.clock`` does for its clock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCK_FILE = "agent.lock"

if sys.platform == "win32":
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


class InstanceLock:
    """``acquire()`` once; True means this process is the one agent for ``data_dir`` until it exits."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> bool:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(descriptor):
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        """Give the lock up early (tests); otherwise the process's end releases it."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
