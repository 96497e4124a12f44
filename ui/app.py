"""The tray app: the agent on a background thread, the window and tray icon on the GUI thread.

``TrayApp`` is the one place that decides what the widgets show. It owns no policy (uploading, presence and
reconnecting are ``sync.service.AgentService``'s) and never waits on the network or the disk: the agent's
callbacks arrive through ``ui.bridge.Bridge`` signals, and reads (a look into the outbox, an enrollment) run
through ``ui.worker.background``. It reads nothing from the server itself: the team, today's minutes for the
chart and ``/me`` all come with the agent's signals (``sync.live``).

``run_tray_app`` is the process: one QApplication that does not quit when the window closes, Ctrl+C and
SIGTERM handled inside the Qt loop (``signal.set_wakeup_fd`` + ``QSocketNotifier``), and on Quit the agent's
own stop path (the open minute written, one last upload, the socket closed).
"""

from __future__ import annotations

import html
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from agent.assembly import Sampler
from agent.returning import IdleAnswer, IdleReturn
from agent.states import PresenceChange
from protocol.schema import DeviceEnrolledEvent, Me, Policy, PresenceState
from sync.live import LinkState, LiveStatus, TeamSnapshot, device_notice
from sync.service import AgentService, connector, sync_now_summary
from sync.settings import AgentSettings
from sync.uploader import SyncStatus
from ui import preferences as ui_preferences
from ui import present
from ui.bridge import Bridge
from ui.idle_prompt import IdlePrompt
from ui.permission_prompt import ask_for_permissions
from ui.present import TrayLook
from ui.settings_dialog import Saved, SettingsDialog
from ui.tray import Tray, system_tray_available
from ui.window import MainWindow
from ui.worker import background

log = logging.getLogger(__name__)

SamplerFactory = Callable[[Callable[[PresenceChange], None]], Sampler]
REFRESH_MS = 30_000  # relative times ("2 min ago") and the outbox preview go stale slowly
TRAY_WAIT_MS = 5_000  # without a tray at start, look for one this often (a tray host started after login)
NO_TRAY = ("There is no system tray on this desktop, so StaffPulse runs in this window. Closing it keeps "
           "StaffPulse running; start StaffPulse again to bring the window back.")


def _now() -> datetime:
    return datetime.now().astimezone()


class TrayApp(QObject):
    finished = Signal()  # Quit chosen: the event loop may end (the agent thread is stopping)
    failed = Signal(object)  # the agent thread ended with an error

    def __init__(self, data_dir: Path, settings: AgentSettings, sampler_factory: SamplerFactory,
                 locked: frozenset[str] = frozenset()) -> None:
        """``settings`` have IT's policy applied; ``locked`` names the fields it sets (the dialog locks them)."""
        super().__init__()
        self._locked = locked
        self.data_dir, self._settings, self._sampler_factory = data_dir, settings, sampler_factory
        self.preferences = ui_preferences.load(data_dir)  # a tiny file, read once before the loop runs
        self.bridge = Bridge(self)
        self.service: AgentService | None = None  # set on the agent thread
        self.running = False  # ``ready`` arrived: the sampler is open, commands can reach it
        self.own_state: PresenceState = PresenceState.ACTIVE
        self.own_since: datetime | None = None
        self.paused = False
        self.policy: Policy | None = None  # the team's, once read: whether Pause tracking is offered
        self._started = _now()
        self._stall_told = False
        self.link, self.sync_status = LiveStatus(), SyncStatus()
        self.snapshot: TeamSnapshot | None = None
        self._breaks = present.BreakWatch()
        self.me: Me | None = None
        self._sync_asked: datetime | None = None  # when Sync Now was chosen, while its result is still to come
        self._enrollment_told = False
        self._enrolled_notice: str | None = None  # shown after enrolling in Settings, until the first upload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="agent", daemon=True)
        self.dialog: SettingsDialog | None = None

        self.window = MainWindow()
        self.idle_prompt = IdlePrompt(self.window)  # owned by the window, so it goes when the window goes
        self.idle_prompt.answered.connect(self.answer_idle)
        self.tray: Tray | None = None
        if system_tray_available():
            self._make_tray()
        self._tray_wait = QTimer(self)
        self._tray_wait.setInterval(TRAY_WAIT_MS)
        self._tray_wait.timeout.connect(self._look_for_tray)
        self.window.sync.button.clicked.connect(self.sync_now)
        for signal_, slot in ((self.bridge.state, self._state_changed), (self.bridge.sync, self._synced),
                              (self.bridge.link, self._link_changed), (self.bridge.team, self._team_changed),
                              (self.bridge.ready, self._ready), (self.bridge.show, self.open_window),
                              (self.bridge.me, self._me_read), (self.bridge.idle_return, self._ask_idle),
                              (self.bridge.idle_settled, self._idle_settled), (self.failed, self._failed),
                              (self.bridge.device_enrolled, self._device_enrolled)):
            signal_.connect(slot)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    # --- life cycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the agent thread; minimised to the tray, or in the window when there is no tray."""
        self._thread.start()
        self._timer.start()
        self._show_look()
        if self.tray is not None:
            self.tray.show()
        else:
            log.warning("no system tray available: showing the window instead")
            self.window.show_notice(NO_TRAY)
            self.window.bring_up()
            self._tray_wait.start()

    def _make_tray(self) -> Tray:
        tray = self.tray = Tray(self)
        tray.sync_action.triggered.connect(self.sync_now)
        tray.break_action.triggered.connect(self.toggle_break)
        tray.pause_action.triggered.connect(self.toggle_pause)
        tray.open_action.triggered.connect(self.open_window)
        tray.settings_action.triggered.connect(self.open_settings)
        tray.quit_action.triggered.connect(self.quit)
        tray.icon.activated.connect(self._tray_clicked)
        return tray

    def _look_for_tray(self) -> None:
        """A tray host that started after us (a panel still loading at login): move into it. The window stays
        as it is; the person closes it when they like."""
        if not system_tray_available():
            return
        self._tray_wait.stop()
        log.info("a system tray appeared: showing the tray icon")
        tray = self._make_tray()
        self._show_look()
        tray.show()

    def _serve(self) -> None:
        """The agent thread. The service is built here too: ``connector`` reads the OS keyring, which can be
        slow (a locked Secret Service or Keychain prompt) and must not hold up the window."""
        try:
            service = AgentService(self.data_dir, connector(self._settings), self.bridge.listeners())
            self.service = service
            service.run(self._sampler_factory, self._stop)
        except Exception as exc:
            log.exception("the agent stopped with an error")
            self.failed.emit(exc)

    def quit(self) -> None:
        """Stop the agent (it writes the open minute, uploads once more, closes the socket), end the loop."""
        log.info("quit requested")
        self._timer.stop()
        self._tray_wait.stop()
        self.idle_prompt.hide()
        self._stop.set()
        self.bridge.blockSignals(True)  # what the stopping agent still reports has no one left to show it to
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        self.finished.emit()

    def _background(self, work: Callable[[], object], done: Callable[[object], None], name: str) -> None:
        """``ui.worker.background``, with results that arrive after Quit dropped."""
        background(work, lambda result: None if self._stop.is_set() else done(result), name=name)

    def wait_stopped(self, timeout: float = 60.0) -> bool:
        """After the loop ended: wait for the agent thread's stop path; False if it overran ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- commands --------------------------------------------------------------------------------------------

    def sync_now(self) -> None:
        """Ask the uploader for a run and return at once; the result arrives with ``bridge.sync``."""
        if self.service is None or not self.running:
            self.window.sync.result.setText("Starting…")
        elif (asked := self.service.request_sync()) is None:
            self.window.sync.result.setText("Not syncing: this device is not enrolled (Settings… to enroll)")
        else:
            self._sync_asked = asked
            self.window.sync.set_busy(True)

    def toggle_break(self) -> None:
        if self.service is not None and self.running:
            self.service.request_break(self.own_state is not PresenceState.BREAK)

    def toggle_pause(self) -> None:
        """Pause or resume; the agent checks the team's policy and the change arrives with ``bridge.state``."""
        if self.service is None or not self.running:
            return
        refusal = self.service.request_pause(not self.paused)
        if refusal is not None:
            self.window.show_notice(refusal.capitalize())

    def answer_idle(self, answer: IdleAnswer) -> None:
        """The prompt's answer, handed to the agent on a worker; it applies it and uploads the minutes."""
        service = self.service
        if service is not None:
            self._background(lambda: service.answer_idle(answer), lambda _result: None, "idle-answer")

    def open_window(self) -> None:
        self.window.bring_up()

    def open_settings(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return
        enrolled = self.service is not None and self.service.connected is not None
        self.dialog = SettingsDialog(self.data_dir, self._settings, self.preferences, enrolled=enrolled,
                                     locked=self._locked)
        self.dialog.saved.connect(self._settings_saved)
        self.dialog.open()

    def _tray_clicked(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_window()

    # --- what the agent reports (GUI thread, through the bridge) ----------------------------------------------

    def _ready(self, enrolled: bool) -> None:
        self.running = True
        self._refresh_outbox()
        if not enrolled:
            self._enrollment_needed("This device is not enrolled yet: choose Settings… to enroll it.")
            if self._settings.server_url is None:
                self.open_settings()  # first run

    def _failed(self, error: object) -> None:
        self.window.show_notice(f"StaffPulse stopped tracking because of an error: {error}")
        self.window.bring_up()

    def _state_changed(self, change: PresenceChange) -> None:
        self.own_state, self.own_since = PresenceState(change.state.value), change.since
        self.paused = change.paused
        self._show_look()

    def _me_read(self, me: Me) -> None:
        self.me, self.policy = me, me.policy
        self._show_look()

    def _ask_idle(self, spell: IdleReturn) -> None:
        question = present.idle_question(spell, _now())
        self.idle_prompt.ask(question)
        self._notify("StaffPulse: welcome back", question)

    def _idle_settled(self, answer: IdleAnswer | None) -> None:
        if answer is None:  # no answer in time: the agent kept it as idle
            self.idle_prompt.hide()
        self._refresh_outbox()

    def _synced(self, status: SyncStatus) -> None:
        self.sync_status = status
        tab = self.window.sync
        tab.set_busy(False)
        asked, self._sync_asked = self._sync_asked, None
        tab.result.setText(present.sync_line(status, self.link) if asked is None
                           else sync_now_summary(status, asked))
        tab.error.setText(present.sync_error(status, self.link))
        if status.needs_enrollment:
            self._enrollment_needed(status.summary())
        elif status.last_error is None and status.last_success is not None and self._enrolled_notice is not None:
            self.window.clear_notice(self._enrolled_notice)  # "Enrolled as …: syncing." has come true
            self._enrolled_notice = None
        self._check_stalled()
        self._show_look()
        self._refresh_outbox()

    def _check_stalled(self) -> None:
        """Say once when uploads have failed for long (``present.sync_stalled``); again after the next success."""
        if self.sync_status.last_error is None:
            self._stall_told = False
        elif not self._stall_told and present.sync_stalled(self.sync_status, self._started, _now()):
            self._stall_told = True
            self._notify("StaffPulse: not syncing", f"Your time has not reached the server for a while. "
                         f"{self.sync_status.summary()}")

    def _link_changed(self, status: LiveStatus) -> None:
        self.link = status
        words = present.LINK_WORDS[status.state]
        colour = present.STATE_COLOURS[PresenceState.ACTIVE if status.state is LinkState.LIVE
                                       else PresenceState.OFFLINE]
        self.window.badge.setText(f'<span style="color:{colour}">●</span> {words}')
        self.window.badge.setToolTip(status.refused or "")
        self.window.sync.error.setText(present.sync_error(self.sync_status, status))
        if self._sync_asked is None:
            self.window.sync.result.setText(present.sync_line(self.sync_status, status))
        if status.refused:
            self._enrollment_needed(f"The server refused this device: {status.refused}")
        self._show_look()

    def _team_changed(self, snapshot: TeamSnapshot) -> None:
        previous, self.snapshot = self.snapshot, snapshot
        notices = self._breaks.notices(snapshot.members, self.me.user.id if self.me is not None else None)
        if self.preferences.notify_breaks:
            for notice in notices:
                self._notify("StaffPulse", notice)
        self.window.team.model.set_members(snapshot.members, _now())
        self.window.team.empty.hide()
        self.window.me.show_totals(snapshot.own_totals)
        self.window.updated.setText(f"updated {snapshot.updated.astimezone().strftime('%H:%M:%S')}")
        if previous is None or previous.own_slots != snapshot.own_slots:
            self.window.me.chart.set_hours(present.hourly_active(snapshot.own_slots, snapshot.time_zone))

    def _settings_saved(self, saved: Saved) -> None:
        self._settings, self.preferences = saved.settings, saved.preferences
        if saved.enrolled is None or self.service is None or not self.running:
            return
        service, settings, name = self.service, saved.settings, saved.enrolled.name

        def attach() -> bool:
            factory = connector(settings)
            return factory is not None and service.attach(factory)

        def attached(result: object) -> None:
            if result is True:
                self._enrollment_told = False
                self._enrolled_notice = f"Enrolled as {name}: syncing."
                self.window.show_notice(self._enrolled_notice)
            else:
                self.window.show_notice(f"Enrolled as {name}. Restart StaffPulse to use the new enrollment.")

        self._background(attach, attached, "attach")

    # --- reads off the GUI thread ------------------------------------------------------------------------------

    def _refresh_outbox(self) -> None:
        """How many minutes wait, and the exact next upload, read from the outbox on a worker."""
        if self.service is None or not self.running:
            return
        outbox = self.service.sampler.outbox

        def read() -> tuple[int, int, str]:
            next_upload = outbox.peek()
            return outbox.pending_count(), len(next_upload), present.payload_preview(next_upload)

        self._background(read, self._outbox_read, "outbox-peek")

    def _outbox_read(self, result: object) -> None:
        if isinstance(result, tuple):
            pending, next_upload, preview = result
            self.window.sync.pending.setText(present.waiting_line(pending, next_upload))
            self.window.sync.payload.setPlainText(preview)

    def refresh(self) -> None:
        """Re-read what goes stale by itself: relative times in the table, the outbox preview."""
        if self.snapshot is not None:
            self.window.team.model.set_members(self.snapshot.members, _now())
        self._check_stalled()
        self._refresh_outbox()

    # --- presentation ----------------------------------------------------------------------------------------

    def _show_look(self) -> None:
        look = present.tray_look(self.own_state, self.link.state, sync_failed=self.sync_status.last_error is not None,
                                 refused=self.link.refused is not None, paused=self.paused)
        state = "Paused" if self.paused else self.own_state.value.capitalize()
        since = f" since {present.clock_time(self.own_since, _now())}" if self.own_since else ""
        problem = {TrayLook.ERROR: " (not syncing)", TrayLook.OFFLINE: " (offline)"}.get(look, "")
        self.window.own_state.setText(html.escape(f"{state}{since}{problem}"))
        if self.tray is not None:
            tooltip = (f"StaffPulse: {state}{problem}\n{present.LINK_WORDS[self.link.state]}; "
                       f"{present.sync_line(self.sync_status, self.link)}")
            self.tray.update(look, f"{state}{since}", tooltip, on_break=self.own_state is PresenceState.BREAK,
                             paused=self.paused, pause_allowed=self.policy is not None and self.policy.pause_allowed)

    def _enrollment_needed(self, text: str) -> None:
        self.window.show_notice(text)
        if not self._enrollment_told:
            self._enrollment_told = True
            self._notify("StaffPulse: enrollment needed", text)

    def _device_enrolled(self, event: DeviceEnrolledEvent) -> None:
        """Another device was enrolled as this user: say so in the window and the tray, once per device."""
        text = device_notice(event)
        self.window.show_notice(text)
        self._notify("StaffPulse: new device enrolled as you", text)

    def _notify(self, title: str, text: str) -> None:
        log.info("notification: %s", text)
        if self.tray is not None:
            self.tray.notify(title, text)


class _SignalWakeup:
    """SIGINT/SIGTERM end the app cleanly even while Qt's C++ loop runs: the signal's byte wakes a notifier,
    which gives Python the chance to run the handler (a polling timer would wake the process all day). The
    handler only queues the quit: run inside it, the quit's logging and event could meet locks the interrupted
    code holds (``agent.signals.stop_on_signals``)."""

    def __init__(self, quit_: Callable[[], None]) -> None:
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        signal.set_wakeup_fd(self._writer.fileno())
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: QTimer.singleShot(0, quit_))

    def _drain(self) -> None:
        self._reader.recv(64)

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()


def run_tray_app(data_dir: Path, settings: AgentSettings, sampler_factory: SamplerFactory, *,
                 locked: frozenset[str] = frozenset()) -> int:
    app = QApplication(sys.argv[:1])
    app.setApplicationName("StaffPulse")
    app.setQuitOnLastWindowClosed(False)
    shell = TrayApp(data_dir, settings, sampler_factory, locked)
    shell.finished.connect(app.quit)
    wakeup = _SignalWakeup(shell.quit)
    shell.start()
    ask_for_permissions(shell.window)  # macOS, Accessibility or Input Monitoring missing: a modeless prompt
    app.exec()
    wakeup.close()
    return 0 if shell.wait_stopped() else 1
