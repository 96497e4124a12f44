"""Settings and first-run enrollment: server URL, enrollment code, idle threshold, notifications.

Saving checks the values first (``AgentSettings`` says what is wrong in words). With a code it enrolls on a
worker thread (``sync.enrollment.enroll``: the token goes straight to the keyring), and only a successful
enrollment saves the new server; without one it saves at once. The dialog stays responsive throughout.

Fields that IT's policy sets (``locked``, from ``agent.policy``) show the policy's value, disabled, with "Set
by your organisation"; saving never writes them to the user's file (``sync.settings.save_unlocked``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import requests
from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from protocol.defaults import INTERVAL_RANGE_S
from protocol.schema import UserPublic
from sync import settings as agent_settings
from sync.api import ApiClient
from sync.credentials import token_store
from sync.enrollment import enroll
from sync.settings import AgentSettings
from ui import preferences as ui_preferences
from ui.preferences import Preferences
from ui.worker import background

LOCKED_NOTE = "Set by your organisation"


@dataclasses.dataclass(frozen=True)
class Saved:
    settings: AgentSettings
    preferences: Preferences
    enrolled: UserPublic | None  # who this device now belongs to, when the dialog enrolled it


class SettingsDialog(QDialog):
    saved = Signal(object)  # Saved

    def __init__(self, data_dir: Path, settings: AgentSettings, preferences: Preferences, *, enrolled: bool,
                 locked: frozenset[str] = frozenset(), parent: QWidget | None = None) -> None:
        """``settings`` are the effective ones (policy applied); ``locked`` names the fields policy sets."""
        super().__init__(parent)
        self.setWindowTitle("StaffPulse settings")
        self._data_dir, self._settings, self._locked = data_dir, settings, locked
        self.server = QLineEdit(settings.server_url or "")
        self.server.setPlaceholderText("https://pulse.example.com")
        self.code = QLineEdit()
        self.code.setPlaceholderText("ABCDE-FGHIJ" if not enrolled else "only to enroll this device again")
        self.idle = QSpinBox()
        self.idle.setRange(*INTERVAL_RANGE_S)
        self.idle.setSuffix(" s")
        self.idle.setValue(settings.idle_threshold_s)
        self.notify = QCheckBox("Tell me when a teammate starts or ends a break")
        self.notify.setChecked(preferences.notify_breaks)
        what = "the" if "server_url" in locked else "your server and the"
        self.message = QLabel("" if enrolled else f"This device is not enrolled yet: enter {what} enrollment code "
                              "your admin gave you.")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Server:", self._lockable(self.server, "server_url"))
        form.addRow("Enrollment code:", self.code)
        form.addRow("Idle after:", self._lockable(self.idle, "idle_threshold_s"))
        form.addRow(self.notify)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("A new idle threshold applies from the next start of StaffPulse."))
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _lockable(self, field: QWidget, name: str) -> QWidget:
        """``field`` as it is, or disabled beside a note when policy sets it."""
        if name not in self._locked:
            return field
        field.setEnabled(False)
        field.setToolTip(LOCKED_NOTE)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        layout.addWidget(QLabel(LOCKED_NOTE))
        return row

    def submit(self) -> None:
        try:
            new = AgentSettings.model_validate(self._settings.model_dump() | {
                "server_url": self.server.text().strip() or None, "idle_threshold_s": self.idle.value()})
        except ValidationError as exc:
            first = exc.errors()[0]
            self.message.setText(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
            return
        prefs = Preferences(notify_breaks=self.notify.isChecked())
        code = self.code.text().strip()
        if code and new.server_url is None:
            self.message.setText("Enter the server's address to enroll.")
            return
        self.buttons.setEnabled(False)
        self.message.setText("Enrolling…" if code else "Saving…")
        data_dir, locked = self._data_dir, self._locked

        def work() -> Saved:
            user = None
            if code and new.server_url is not None:
                with requests.Session() as session:
                    api = ApiClient(new.server_url, lambda: None, ca_bundle=new.ca_bundle, session=session)
                    user = enroll(api, token_store(), code=code)
            agent_settings.save_unlocked(data_dir, new, locked)
            ui_preferences.save(data_dir, prefs)
            return Saved(new, prefs, user)

        background(work, self._done, name="save-settings")

    def _done(self, result: object) -> None:
        self.buttons.setEnabled(True)
        if isinstance(result, Saved):
            self.saved.emit(result)
            self.accept()
        else:
            self.message.setText(f"Not saved: {result}")
