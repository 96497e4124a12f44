"""What the person sees of IT's policy and of missing macOS permissions: fields set by policy are shown
locked and never saved to their file; the first-run prompt names what is missing and opens the settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from agent.permissions import AlwaysGranted, Permission
from agent.policy import MachinePolicy
from sync.settings import AgentSettings, effective, load, save
from ui.permission_prompt import ask_for_permissions
from ui.preferences import Preferences
from ui.settings_dialog import LOCKED_NOTE, Saved, SettingsDialog


def test_policy_fields_are_locked_and_not_saved(qtbot: QtBot, tmp_path: Path) -> None:
    save(tmp_path, AgentSettings(server_url="https://mine.example.com", idle_threshold_s=120))
    merged = effective(load(tmp_path), MachinePolicy(server_url="https://pulse.corp.example"))
    dialog = SettingsDialog(tmp_path, merged.settings, Preferences(), enrolled=True, locked=merged.locked)
    qtbot.addWidget(dialog)
    assert not dialog.server.isEnabled() and dialog.server.text() == "https://pulse.corp.example"
    assert dialog.server.toolTip() == LOCKED_NOTE
    assert [label.text() for label in dialog.findChildren(QLabel)].count(LOCKED_NOTE) == 1
    assert dialog.idle.isEnabled(), "only what policy sets is locked"

    dialog.idle.setValue(240)
    with qtbot.waitSignal(dialog.saved, timeout=5000) as saved:
        dialog.submit()
    result = saved.args[0]
    assert isinstance(result, Saved)
    assert result.settings == AgentSettings(server_url="https://pulse.corp.example", idle_threshold_s=240)
    assert load(tmp_path) == AgentSettings(server_url="https://mine.example.com", idle_threshold_s=240)


def test_nothing_locked_without_policy(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = SettingsDialog(tmp_path, AgentSettings(), Preferences(), enrolled=False)
    qtbot.addWidget(dialog)
    assert dialog.server.isEnabled() and dialog.idle.isEnabled()
    assert LOCKED_NOTE not in [label.text() for label in dialog.findChildren(QLabel)]
    assert "enter your server and the enrollment code" in dialog.message.text()


def test_with_the_server_locked_only_the_code_is_asked_for(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = SettingsDialog(tmp_path, AgentSettings(server_url="https://pulse.corp.example"), Preferences(),
                            enrolled=False, locked=frozenset({"server_url"}))
    qtbot.addWidget(dialog)
    assert "enter the enrollment code your admin gave you" in dialog.message.text()


class Missing:
    """A permission checker with Input Monitoring not granted (the OS boundary: agent.permissions._macos)."""

    def __init__(self) -> None:
        self.requested: list[Permission] = []

    def granted(self, permission: Permission) -> bool:
        return permission is not Permission.INPUT_MONITORING

    def request(self, permission: Permission) -> None:
        self.requested.append(permission)


def test_first_run_prompt_names_the_missing_permission(qtbot: QtBot) -> None:
    checker = Missing()
    box = ask_for_permissions(None, checker)
    assert isinstance(box, QMessageBox)
    qtbot.addWidget(box)
    assert box.isVisible(), "shown without blocking the app's start"
    assert "Input Monitoring" in box.text() and "Accessibility" not in box.text()
    [settings] = [b for b in box.buttons() if b.text() == "Open System Settings"]
    settings.click()
    assert checker.requested == [Permission.INPUT_MONITORING]


def test_no_prompt_when_nothing_is_missing() -> None:
    assert ask_for_permissions(None, AlwaysGranted()) is None
    assert ask_for_permissions(None, system="linux") is None
