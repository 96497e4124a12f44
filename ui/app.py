"""The tray app: the agent on a background thread, the window and tray icon on the GUI thread.

``TrayApp`` is the one place that decides what the widgets show. It owns no policy (uploading, presence and
reconnecting are ``sync.service.AgentService``'s) and never waits on the network or the disk: the agent's
callbacks arrive through ``ui.bridge.Bridge`` signals, and reads (a look into the outbox, an enrollment) run
through ``ui.worker.background``. The team, today's minutes for the chart and ``/me`` all come with the agent's
signals (``sync.live``); the live views' one read of their own is a manager's team day for the strips, on a
worker when the team's numbers changed, at most once a minute (``TEAM_DAY_EVERY_S``); the History tab's reads
are its own, on workers (``ui.history_tab``), handed who reads with each ``/me``. Days and clock times are the
account's zone's throughout (``ui.day_view``). The last team view is kept on disk (``ui.last_view``) and shown,
marked "as of", when the window starts before the server answers.

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
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from agent.assembly import Sampler
from agent.returning import IdleAnswer, IdleReturn
from agent.states import PresenceChange
from protocol.schema import DeviceEnrolledEvent, Me, Policy, PresenceState, Role, TeamDay, Totals
from protocol.version import VERSION
from sync.api import ApiClient
from sync.errors import NotEnrolled, in_words
from sync.live import LinkState, LiveStatus, TeamSnapshot, device_notice
from sync.service import AgentService, connector, sync_now_summary
from sync.settings import AgentSettings, Effective
from sync.uploader import SyncStatus
from ui import about_facts, brand, day_view, last_view, present, theme
from ui import preferences as ui_preferences
from ui.about_dialog import AboutDialog
from ui.bridge import Bridge
from ui.history_reads import Viewer
from ui.icons import mark_icon
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
TEAM_DAY_EVERY_S = 60.0  # a manager's read of the team's day (the strips): at most this often
SAVE_VIEW_MS = 5_000  # the last view goes to disk this long after it changed (a burst of events, one write)
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
        self.team_day: TeamDay | None = None  # a manager's last read of today's team day (the strips)
        self.from_disk = False  # the shown view is the last one kept on disk, not read in this run
        self._viewer: int | None = None  # the reader's user id as the view on disk says, until ``/me`` answers
        self._day_wanted = False  # the team's numbers changed since the last read of the team day
        self._day_read_at: float | None = None  # monotonic, when that read started
        self._day_reading = False
        self._breaks = present.BreakWatch()
        self.me: Me | None = None
        self._sync_asked: datetime | None = None  # when Sync Now was chosen, while its result is still to come
        self._shown_asked: datetime | None = None  # the Sync Now whose result the Sync tab shows, if it does
        self._enrollment_told = False
        self._enrolled_notice: str | None = None  # shown after enrolling in Settings, until the first upload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="agent", daemon=True)
        self.dialog: SettingsDialog | None = None
        self.about: AboutDialog | None = None

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
        self.window.settings_action.triggered.connect(self.open_settings)
        self.window.about_action.triggered.connect(self.open_about)
        self.window.quit_action.triggered.connect(self.quit)
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
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_VIEW_MS)
        self._save_timer.timeout.connect(self._save_view)

    # --- life cycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the agent thread; minimised to the tray, or in the window when there is no tray."""
        self._thread.start()
        self._timer.start()
        self._background(lambda: last_view.load(self.data_dir), self._last_view_loaded, "last-view")
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
            service = AgentService(self.data_dir, connector(self._settings), self.bridge.listeners(),
                                   settings=Effective(self._settings, self._locked))
            self.service = service
            service.run(self._sampler_factory, self._stop)
        except Exception as exc:
            log.exception("the agent stopped with an error")
            self.failed.emit(exc)

    def quit(self) -> None:
        """Stop the agent (it writes the open minute, uploads once more, closes the socket), end the loop."""
        log.info("quit requested")
        self._timer.stop()
        self._save_timer.stop()
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
                                     locked=self._locked, team=self.policy)
        self.dialog.saved.connect(self._settings_saved)
        self.dialog.open()

    def open_about(self) -> None:
        if self.about is None:
            self.about = AboutDialog(self.window)
        self._show_about()
        self.about.show()
        self.about.raise_()

    def _show_about(self) -> None:
        """Fill the About dialog from what is known now (``/me`` arrives with the agent's signals)."""
        if self.about is None:
            return
        enrolled = self.service is not None and self.service.connected is not None
        self.about.show_rows(about_facts.about_rows(
            me=self.me, enrolled=enrolled or self.me is not None, server_url=self._settings.server_url,
            version=VERSION, data_dir=self.data_dir, log_dir=about_facts.log_folder()))

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
        words = in_words(error) if isinstance(error, BaseException) else str(error)
        self.window.show_notice(f"StaffPulse stopped tracking. {words} Restart StaffPulse to track again.")
        self.window.bring_up()

    def _state_changed(self, change: PresenceChange) -> None:
        self.own_state, self.own_since = PresenceState(change.reported), change.since
        self.paused = change.paused
        self._show_look()
        self._show_team()  # the own strip's present follows the own state

    def _me_read(self, me: Me) -> None:
        """Who reads, at every connect and after their role changed (``sync.live``): the view shown and kept on
        disk is cut to what this user may see — none of another user's (a view kept by whoever used this PC
        before), and for a member none of the team's numbers (a manager demoted while the window is open)."""
        shown_for = self._viewer if self.from_disk else self.me.user.id if self.me is not None else None
        self.me, self.policy = me, me.policy
        if self.snapshot is not None and shown_for != me.user.id:
            log.info("the view shown was another user's: dropped, and its copy on disk deleted")
            self._forget_view()
        elif me.user.role is Role.MEMBER and (self.team_day is not None or self._team_totals()):
            self._cut_to_member()
            self._save_timer.start()
        self.window.history.attach(Viewer.of(me), self.new_client, self._background)
        self._show_look()
        self._show_about()
        if self.sync_status.last_success is not None or self.sync_status.last_error is not None:
            self._show_sync_result()
        self._show_team()
        self._read_team_day()

    def _ask_idle(self, spell: IdleReturn) -> None:
        question = present.idle_question(spell, _now(), self.zone())
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
        self._shown_asked, self._sync_asked = self._sync_asked, None
        self._show_sync_result()
        tab.error.setText(present.sync_error(status, self.link))
        if status.needs_enrollment:
            self._enrollment_needed(status.summary())
        elif status.last_error is None and status.last_success is not None and self._enrolled_notice is not None:
            self.window.clear_notice(self._enrolled_notice)  # "Enrolled as …: syncing." has come true
            self._enrolled_notice = None
        self._check_stalled()
        self._show_look()
        self._refresh_outbox()

    def _show_sync_result(self) -> None:
        """The last sync in words, at the window's zone's clock (again when the account's zone becomes known)."""
        status, asked, zone = self.sync_status, self._shown_asked, self.zone()
        self.window.sync.result.setText(present.sync_line(status, self.link, zone) if asked is None
                                        else sync_now_summary(status, asked, zone))

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
        if self._sync_asked is None:  # a Sync Now in flight says its own result when it comes
            self._show_sync_result()
        if status.refused:
            self._enrollment_needed(status.refused)  # in words already (sync.errors.in_words)
            self._delete_view()  # revoked: the view is no longer this device's to show at the next start
        self._show_look()
        self._show_team()

    def _team_changed(self, snapshot: TeamSnapshot) -> None:
        previous, self.snapshot, self.from_disk = self.snapshot, snapshot, False
        if self.me is not None and self.me.user.role is Role.MEMBER:
            self._cut_to_member()  # (events a demoted manager's socket may still be sent)
        notices = self._breaks.notices(snapshot.members, self.me.user.id if self.me is not None else None)
        if self.preferences.notify_breaks:
            for notice in notices:
                self._notify("StaffPulse", notice)
        self._show_snapshot(previous)
        self._day_wanted = True
        self._read_team_day()
        self._save_timer.start()

    def _team_totals(self) -> bool:
        return self.snapshot is not None and any(member.totals is not None for member in self.snapshot.members)

    def _cut_to_member(self) -> None:
        """A member's window: no team day, no one's totals but their own day's (``day_view.members_view``)."""
        self.team_day = None
        if self.snapshot is not None:
            self.snapshot = day_view.members_view(self.snapshot)

    def _forget_view(self) -> None:
        """Nothing of the view shown is this reader's: clear it, and delete its copy on disk (on a worker)."""
        self.snapshot, self.team_day, self.from_disk, self._viewer = None, None, False, None
        self.window.team.show_team([], [], _now(), as_of=None)
        self.window.me.show_totals(Totals())
        self.window.me.chart.set_hours([])
        self.window.me.strip.set_strip(None)
        self._delete_view()

    def _delete_view(self) -> None:
        self._save_timer.stop()
        data_dir = self.data_dir
        self._background(lambda: last_view.delete(data_dir), lambda _result: None, "delete-view")

    def _show_snapshot(self, previous: TeamSnapshot | None) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self.window.me.show_totals(snapshot.own_totals)
        zone = self.zone()
        note = day_view.zone_note(snapshot.time_zone, None, _now())
        self.window.updated.setText(f"updated {snapshot.updated.astimezone(zone).strftime('%H:%M:%S')}"
                                    + (f" · {note}" if note else ""))
        if previous is None or previous.own_slots != snapshot.own_slots:
            self.window.me.chart.set_hours(present.hourly_active(snapshot.own_slots, snapshot.time_zone))
        self._show_team()

    def _show_team(self) -> None:
        """The dashboard's rows and the Me tab's strip from the last snapshot, the manager's team day and the
        own live state; greyed "as of" while not live (an outage, a refused device, the view kept on disk)."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        now = _now().astimezone(self.zone())
        # refused (revoked): the minutes not yet uploaded never will be, so the strip's present is not painted
        own_state = day_view.own_state(self.own_state, self.link.refused is not None)
        own_strip = day_view.strip_for(
            day_view.timeline_from_slots(snapshot.own_slots, snapshot.own_date, snapshot.time_zone),
            snapshot.own_date, snapshot.time_zone, own_state, self.own_since, now)
        day = self.team_day
        days = {member.user_id: member for member in day.members} if day and day.date == snapshot.own_date else {}
        rows = day_view.rows(snapshot.members, me=self.me.user.id if self.me else self._viewer, days=days,
                             own_strip=own_strip, own_totals=snapshot.own_totals,
                             refused=self.link.refused is not None, now=now)
        as_of = None
        if self.from_disk:
            as_of = f"Last known view, {day_view.as_of(snapshot.updated, now, self.zone())}"
        elif self.link.state is not LinkState.LIVE:
            as_of = f"Not live: {day_view.as_of(snapshot.updated, now, self.zone())}"
        self.window.team.show_team(snapshot.members, rows, now, as_of=as_of)
        self.window.me.strip.set_strip(own_strip)

    def zone(self) -> tzinfo | None:
        """The window's one zone for days and clock times: the account's (its day totals are cut there), the PC's
        until the account is known."""
        if self.me is not None:
            return ZoneInfo(self.me.user.time_zone)
        return ZoneInfo(self.snapshot.time_zone) if self.snapshot is not None else None

    def _settings_saved(self, saved: Saved) -> None:
        self._settings, self.preferences = saved.settings, saved.preferences
        if self.service is None or not self.running:
            return
        self.service.settings_changed(Effective(saved.settings, self._locked))  # a new threshold, in force now
        if saved.enrolled is None:
            return
        service, settings, name = self.service, saved.settings, saved.enrolled.name

        def attach() -> bool:
            factory = connector(settings)
            if factory is not None:
                service.attach(factory)  # replaces a connection refused after a revoke: no restart needed
            return factory is not None

        def attached(result: object) -> None:
            if result is True:
                self._enrollment_told = False
                self._enrolled_notice = f"Enrolled as {name}: syncing."
                self.window.show_notice(self._enrolled_notice)
            else:
                self.window.show_notice(f"Enrolled as {name}, but the new enrollment could not be read back from "
                                        "this computer's keyring. Restart StaffPulse; see its log if that fails.")

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

    def new_client(self) -> ApiClient:
        """A client for one read on a worker, on the agent's server and token cache (``Connected.new_client``):
        the History tab's and the export's reads go to the OS keyring no more than the agent does. The caller
        closes it."""
        connected = self.service.connected if self.service is not None else None
        if connected is None:
            raise NotEnrolled("this device is not enrolled yet")
        return connected.new_client()

    def _read_team_day(self) -> None:
        """A manager's strips: today's team day, read on a worker with a client of its own, when the team's
        numbers changed since the last read and at most once a minute (``TEAM_DAY_EVERY_S``; the ``refresh``
        timer catches up a change that came sooner). Members are never sent it (403), so never ask."""
        connected = self.service.connected if self.service is not None else None
        snapshot, me = self.snapshot, self.me
        if (connected is None or snapshot is None or me is None or me.user.role is Role.MEMBER or self.from_disk
                or self._day_reading or not self._day_wanted):
            return
        if self._day_read_at is not None and time.monotonic() - self._day_read_at < TEAM_DAY_EVERY_S:
            return
        self._day_reading, self._day_wanted, self._day_read_at = True, False, time.monotonic()
        day = snapshot.own_date

        def read() -> TeamDay:
            client = connected.new_client()
            try:
                return client.team_day(day)
            finally:
                client.close()

        self._background(read, self._team_day_read, "team-day")

    def _team_day_read(self, result: object) -> None:
        self._day_reading = False
        if self.me is not None and self.me.user.role is Role.MEMBER:
            return  # demoted while it was read
        if isinstance(result, TeamDay):
            self.team_day = result
            self._show_team()
            self._save_timer.start()
        else:  # the next change or refresh tries again; the strips keep the last read meanwhile
            self._day_wanted = True
            log.info("team day not read: %s", result)

    def _save_view(self) -> None:
        """The shown view to disk on a worker, for a start with the server down (``ui.last_view``)."""
        if self.snapshot is None or self.from_disk or self.link.refused is not None:
            return
        view = last_view.LastView(self.snapshot, self.team_day, self.me.user.id if self.me is not None else None)
        data_dir = self.data_dir
        self._background(lambda: last_view.save(data_dir, view), lambda _result: None, "save-view")

    def _last_view_loaded(self, result: object) -> None:
        """The view kept on disk, shown marked until the server's first answer replaces it."""
        if not isinstance(result, last_view.LastView) or self.snapshot is not None:
            return
        me = self.me
        if me is not None and result.user_id != me.user.id:
            log.info("the view kept on disk is another user's: deleted")
            self._delete_view()
            return
        self.snapshot, self.team_day, self.from_disk = result.snapshot, result.team_day, True
        self._viewer = result.user_id
        if me is not None and me.user.role is Role.MEMBER:
            self._cut_to_member()
        self._show_snapshot(None)

    def _outbox_read(self, result: object) -> None:
        if isinstance(result, tuple):
            pending, next_upload, preview = result
            self.window.sync.pending.setText(present.waiting_line(pending, next_upload))
            self.window.sync.payload.setPlainText(preview)

    def refresh(self) -> None:
        """Re-read what goes stale by itself: durations, relative times and "now" in the table, a manager's team
        day when its numbers changed since the last read, the outbox preview."""
        self._show_team()
        self._read_team_day()
        self._check_stalled()
        self._refresh_outbox()

    # --- presentation ----------------------------------------------------------------------------------------

    def _show_look(self) -> None:
        look = present.tray_look(self.own_state, self.link.state, sync_failed=self.sync_status.last_error is not None,
                                 refused=self.link.refused is not None)
        state = self.own_state.value.capitalize()
        since = f" since {present.clock_time(self.own_since, _now(), self.zone())}" if self.own_since else ""
        problem = {TrayLook.ERROR: " (not syncing)", TrayLook.OFFLINE: " (offline)"}.get(look, "")
        self.window.own_state.setText(html.escape(f"{state}{since}{problem}"))
        if self.tray is not None:
            tooltip = (f"StaffPulse: {state}{problem}\n{present.LINK_WORDS[self.link.state]}; "
                       f"{present.sync_line(self.sync_status, self.link, self.zone())}")
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
    app.setWindowIcon(mark_icon(brand.BRAND))
    shell = TrayApp(data_dir, settings, sampler_factory, locked)
    theme.follow(shell.preferences.theme)
    shell.finished.connect(app.quit)
    wakeup = _SignalWakeup(shell.quit)
    shell.start()
    ask_for_permissions(shell.window)  # macOS, Accessibility or Input Monitoring missing: a modeless prompt
    app.exec()
    wakeup.close()
    return 0 if shell.wait_stopped() else 1
