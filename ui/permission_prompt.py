"""The first-run prompt on macOS: which permission is missing, why, and a button to the settings pane.

The decisions (what is missing, the words) are ``agent.permissions``'; this only shows them. The box is
modeless (``open``), so the tray app starts behind it; it returns at once on Windows and Linux.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from agent.permissions import PermissionChecker, missing, prompt_text, select_checker

log = logging.getLogger(__name__)


def ask_for_permissions(parent: QWidget | None = None, checker: PermissionChecker | None = None,
                        system: str = sys.platform) -> QMessageBox | None:
    """Show the prompt when a permission is missing; returns the box shown, or None."""
    try:
        checker = checker or select_checker(system)
    except OSError as problem:
        log.warning("cannot check the input permissions: %s", problem)
        return None
    absent = missing(checker)
    if not absent:
        return None
    log.warning("input permissions missing: %s", ", ".join(p.value for p in absent))
    box = QMessageBox(QMessageBox.Icon.Information, "StaffPulse needs permission", prompt_text(absent),
                      parent=parent)
    settings = box.addButton("Open System Settings", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    chosen_checker = checker

    def clicked(button: QAbstractButton) -> None:
        if button is settings:
            for permission in absent:
                chosen_checker.request(permission)

    box.buttonClicked.connect(clicked)
    box.open()
    return box
