"""The OS permissions the agent needs to count input, and what to tell the person when one is missing.

Only macOS gates this: a process counts keys and clicks only with Accessibility and Input Monitoring granted
in System Settings, and without them pynput's listeners run but hear nothing. ``select_checker`` is the one
place that picks the OS sibling (``_macos``; every other OS grants both implicitly). ``missing`` and
``prompt_text`` are the pure part the tray app uses for its first-run prompt.
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["AlwaysGranted", "Permission", "PermissionChecker", "missing", "prompt_text", "select_checker"]


class Permission(enum.Enum):
    ACCESSIBILITY = "Accessibility"
    INPUT_MONITORING = "Input Monitoring"


class PermissionChecker(Protocol):
    def granted(self, permission: Permission) -> bool:
        ...

    def request(self, permission: Permission) -> None:
        """Ask the OS to prompt for, or open the settings pane of, ``permission``; returns at once."""
        ...


class AlwaysGranted:
    """Windows and Linux/X11: no per-app permission stands between the agent and input events."""

    def granted(self, permission: Permission) -> bool:
        return True

    def request(self, permission: Permission) -> None:
        pass


def missing(checker: PermissionChecker) -> list[Permission]:
    return [permission for permission in Permission if not checker.granted(permission)]


def prompt_text(absent: list[Permission]) -> str:
    """Why the person should grant ``absent``, in their words; empty when nothing is missing."""
    if not absent:
        return ""
    names = " and ".join(permission.value for permission in absent)
    return (f"StaffPulse needs {names} permission to count keyboard and mouse activity (only how much, never "
            "which keys or what you type). Allow StaffPulse in System Settings → Privacy & Security → "
            f"{absent[0].value}, then quit and start StaffPulse again. Until then no activity is counted.")


def select_checker(system: str) -> PermissionChecker:
    """The checker for ``system`` (a ``sys.platform`` value); on macOS it binds the native calls when made."""
    if system == "darwin":
        from agent.permissions._macos import MacPermissions

        return MacPermissions.load()
    return AlwaysGranted()
