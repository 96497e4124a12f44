"""``staffpulse --self-test``: the library checks (``sync.selftest``) and then Qt's (``ui.selftest``).

The composition lives here because the Qt check is ui/'s and sync/ must not reach up into ui/. The Qt check
runs last: a missing platform plugin aborts the process inside Qt, and by then every other line is out.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TextIO

from sync import selftest
from sync.selftest import Check


def qt_platform() -> Check:
    if importlib.util.find_spec("PySide6") is None:
        return Check("Qt platform plugin", False, "PySide6 is not installed")
    try:
        from ui.selftest import qt_platform_check  # Qt loads only for this check
    except ImportError as problem:  # PySide6 is there but its DLLs are not (a system library the OS lacks)
        return Check("Qt platform plugin", False, f"Qt cannot load: {problem}")
    return qt_platform_check()


CHECKS: tuple[Callable[[], Check], ...] = (*selftest.CHECKS, qt_platform)


def run(out: TextIO) -> int:
    """Every check, one line each; 0 when all passed, else 1."""
    return selftest.run(out, CHECKS)
