"""Settings and first-run enrollment: server URL, enrollment code, idle threshold, notifications.

Saving checks the values first (``sync.settings.changed``); what is wrong, here and when enrolling fails, is
said by ``sync.errors.in_words``, the detail logged. With a code it enrolls on a
worker thread (``sync.enrollment.enroll``: the token goes straight to the keyring), and only a successful
enrollment saves the new server; without one it saves at once. The dialog stays responsive throughout.

Each setting a team or IT may decide says who did (``sync.settings.decide``): fields that IT's policy sets
(``locked``, from ``agent.policy``) show its value, disabled, "Set by your IT department"; the idle threshold and
the upload interval of the team's policy (``team``, from ``/me``) likewise, "Set by your team". Saving never
writes a value someone else decided to the user's file (``sync.settings.save_unlocked``): their own choice is
kept for when that decision is withdrawn.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import requests
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
from protocol.schema import Policy, UserPublic
from sync import settings as agent_settings
from sync.api import ApiClient
from sync.credentials import token_store
from sync.enrollment import enroll
from sync.errors import BadSetting, in_words
from sync.settings import AgentSettings, Source, decide
from ui import preferences as ui_preferences
from ui.preferences import Preferences
from ui.worker import background

log = logging.getLogger(__name__)

LOCKED_NOTE = "Set by your IT department"
TEAM_NOTE = "Set by your team"
DEFAULT_NOTE = "StaffPulse's default"
NOTES = {Source.IT: LOCKED_NOTE, Source.TEAM: TEAM_NOTE, Source.DEFAULT: DEFAULT_NOTE}


@dataclasses.dataclass(frozen=True)
class Saved:
    settings: AgentSettings
    preferences: Preferences
    enrolled: UserPublic | None  # who this device now belongs to, when the dialog enrolled it


def _beside(field: QWidget, note: QLabel) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field, 1)
    layout.addWidget(note)
    return row


class SettingsDialog(QDialog):
    saved = Signal(object)  # Saved

    def __init__(self, data_dir: Path, settings: AgentSettings, preferences: Preferences, *, enrolled: bool,
                 locked: frozenset[str] = frozenset(), team: Policy | None = None,
                 parent: QWidget | None = None) -> None:
        """``settings`` are the effective ones (policy applied); ``locked`` names the fields policy sets;
        ``team`` is the team's policy once read from the server."""
        super().__init__(parent)
        self.setWindowTitle("StaffPulse settings")
        self._data_dir, self._settings = data_dir, settings
        self._preferences = preferences  # saving keeps the ones this dialog does not show (the theme)
        decided = decide(settings, locked, team)
        self._sources = {"server_url": Source.IT if "server_url" in locked else Source.YOURS,
                         "idle_threshold_s": decided.idle_threshold_s.source}
        #: Fields whose shown value someone else decided: never saved over the person's own.
        self._locked = frozenset(name for name, source in self._sources.items() if source is not Source.YOURS)
        self.server = QLineEdit(settings.server_url or "")
        self.server.setPlaceholderText("https://pulse.example.com")
        self.code = QLineEdit()
        self.code.setPlaceholderText("ABCDE-FGHIJ" if not enrolled else "only to enroll this device again")
        self.idle = QSpinBox()
        self.idle.setRange(*INTERVAL_RANGE_S)
        self.idle.setSuffix(" s")
        self.idle.setValue(decided.idle_threshold_s.value)
        minutes = decided.sync_interval_s.value / 60
        self.interval = QLabel(f"every {minutes:g} minute{'s' if minutes != 1 else ''}")
        self.interval_note = QLabel(NOTES[decided.sync_interval_s.source])
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
        form.addRow("Uploads:", _beside(self.interval, self.interval_note))
        form.addRow(self.notify)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _lockable(self, field: QWidget, name: str) -> QWidget:
        """``field`` as it is, or disabled beside a note saying who set it when IT or the team did."""
        source = self._sources[name]
        if source is Source.YOURS:
            return field
        field.setEnabled(False)
        field.setToolTip(NOTES[source])
        return _beside(field, QLabel(NOTES[source]))

    def submit(self) -> None:
        try:
            new = agent_settings.changed(self._settings, server_url=self.server.text().strip() or None,
                                         idle_threshold_s=self.idle.value() if "idle_threshold_s" not in self._locked
                                         else self._settings.idle_threshold_s)
        except BadSetting as exc:
            log.info("settings not saved: %s", exc)
            self.message.setText(in_words(exc))
            return
        prefs = dataclasses.replace(self._preferences, notify_breaks=self.notify.isChecked())
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
            log.warning("settings not saved: %s", result)
            self.message.setText(f"Not saved. {in_words(result) if isinstance(result, Exception) else result}")
