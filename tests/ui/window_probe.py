"""Builds the window with its widest content on Qt's offscreen platform and prints its widths as JSON.

A subprocess of ``test_window_size.py``: the scale (``QT_SCALE_FACTOR``) is read once, when a process makes its
QApplication, and the pytest process already has its own at 100 %. The content is the widest each tab gets: a
manager's table, the longest header (paused, not syncing, reconnecting, the account's zone named), a Sync Now
result with its note, the Me tab's strip and chart, and the History tab shown with a manager's day of the whole
team (every member a line, with the longest names).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from protocol.schema import HourProfile, MemberDay, PresenceState, Retention, Role, TeamMember, Totals
from sync.api import ApiClient
from ui import day_view
from ui.history_reads import Answer, Viewer
from ui.history_tab import HistoryTab
from ui.window import MainWindow

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def fill_history(tab: HistoryTab, count: int) -> None:
    """A manager's History tab with the whole team's day answered at once (no server: the runner answers)."""
    def answer(_work: Callable[[], object], done: Callable[[object], None], _name: str) -> None:
        day = tab.period.start
        start = datetime.combine(day, datetime.min.time(), UTC)
        rows = [MemberDay(user_id=i, name=f"Someone With A Long Name {i}", date=day, time_zone="UTC",
                          totals=Totals(tracked_s=36_000, active_s=30_000, idle_s=2_000, break_s=4_000,
                                        activity_pct=55.5),
                          first_activity=start + timedelta(hours=8), last_activity=start + timedelta(hours=18),
                          hours=[HourProfile(start=start + timedelta(hours=h), active_s=1_250) for h in range(24)])
                for i in range(count)]
        done(Answer(tab.period, rows, [], Retention(minutes_days=30, keeps_day_totals=True)))

    tab.attach(Viewer(1, "Someone With A Long Name 1", "UTC", manages=True),
               lambda: ApiClient("https://example.test", lambda: None), answer)


def main() -> None:
    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.own_state.setText("Paused since Mon 14:05 (not syncing)")
    window.badge.setText('<span style="color:#c8ccd2">●</span> Reconnecting')
    window.updated.setText("updated 14:05:03 · Times in America/Argentina/Buenos_Aires")
    window.sync.result.setText("Last sync failed: the server is busy or failing (HTTP 503): try again later. The "
                               "minute in progress (14:05) follows, usually within a minute of its end; otherwise "
                               "with the next upload.")
    members = [TeamMember(user_id=i, name=f"Someone With A Long Name {i}", role=Role.MEMBER,
                          state=PresenceState.BREAK, since=NOW - timedelta(hours=3), last_seen=NOW,
                          totals=Totals(active_s=30_000, break_s=4_000, activity_pct=55.5)) for i in range(60)]
    rows = day_view.rows(members, me=1, days={}, own_strip=day_view.Strip("a" * 1440, 870), own_totals=None,
                         refused=False, now=NOW)
    window.team.show_team(members, rows, NOW, as_of="Last known view, as of Mon 17:02")
    fill_history(window.history, len(members))
    window.show()
    window.tabs.setCurrentWidget(window.history)  # shown: its read is answered, its table filled
    app.processEvents()
    minimum = window.minimumSizeHint()
    window.resize(minimum)
    app.processEvents()
    badge_right = window.badge.mapTo(window, QPoint(window.badge.width(), 0)).x()
    print(json.dumps({"ratio": window.devicePixelRatioF(), "minimum": minimum.width(),
                      "hint": window.sizeHint().width(), "width": window.width(), "badge_right": badge_right,
                      "history_rows": window.history.members.rowCount()}))


if __name__ == "__main__":
    main()
