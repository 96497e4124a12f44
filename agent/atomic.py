"""Writing a small file so that a crash, a power cut or a full disk leaves either the old file or the new one.

The text goes to a temporary file beside the target (same folder, so the rename cannot cross file systems),
is flushed to the disk (``fsync``: without it a power cut after the rename can leave an empty file under the
new name, which ext4 and NTFS both allow), and is renamed over the target in one step. The folder is synced
too where the OS allows it, so the rename itself survives. The temporary file is created 0600 (``mkstemp``),
which is what every file the agent keeps must be (``agent.paths``). The agent's settings and the window's
preferences are written this way; the outbox is SQLite, which has its own journal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:  # any failure, Ctrl+C included, must not leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if sys.platform != "win32":  # Windows cannot open a folder to sync it; NTFS journals the rename
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
