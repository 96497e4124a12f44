"""The History tab's own behaviour, with the reads held back by a runner the test controls (no server needed):
it reads only once shown, a late answer never overwrites a newer pick, and the window fits 800 px wide with the
tab shown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pytestqt.qtbot import QtBot

from protocol.schema import HourProfile, MemberDay, Retention, Totals
from sync.api import ApiClient
from ui.history_reads import Answer, Viewer
from ui.history_tab import HistoryTab
from ui.history_view import Period
from ui.window import MainWindow

Job = tuple[Callable[[], object], Callable[[object], None]]


class HeldRunner:
    """Keeps each job instead of running it, so the test decides when (and in which order) answers arrive."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def __call__(self, work: Callable[[], object], done: Callable[[object], None], name: str) -> None:
        self.jobs.append((work, done))


def day_answer(period: Period, active_s: int) -> Answer:
    hours = [HourProfile(start=datetime.combine(period.start, datetime.min.time(), UTC) + timedelta(hours=h),
                         active_s=active_s // 24) for h in range(24)]
    row = MemberDay(user_id=7, name="Me Myself", date=period.start, time_zone="UTC",
                    totals=Totals(tracked_s=active_s, active_s=active_s), hours=hours)
    return Answer(period, [row], [], Retention(minutes_days=30, keeps_day_totals=False))


def test_a_late_answer_never_overwrites_a_newer_pick(qtbot: QtBot) -> None:
    tab = HistoryTab()
    qtbot.addWidget(tab)
    runner = HeldRunner()
    tab.attach(Viewer(7, "Me Myself", "UTC", manages=False), lambda: ApiClient("https://example.test", lambda: None),
               runner)
    assert runner.jobs == [], "a tab nobody looks at asks the server nothing"
    tab.show()  # the read comes with showing the tab
    assert len(runner.jobs) == 1
    today = tab.period
    assert not tab.next.isEnabled(), "no history in the future"
    tab.previous.click()
    yesterday = tab.period
    assert yesterday.start == today.start - timedelta(days=1) and len(runner.jobs) == 2
    assert tab.next.isEnabled()

    runner.jobs[1][1](day_answer(yesterday, 7200))  # the newer question is answered first
    runner.jobs[0][1](day_answer(today, 3600))  # then the older one, late
    assert tab.answer is not None and tab.answer.period == yesterday
    assert tab.active.text() == "2 h 00 min"
    assert [tab.member.itemText(i) for i in range(tab.member.count())] == ["Me"]


def test_the_window_with_the_history_tab_fits_800_px(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.tabs.setCurrentWidget(window.history)
    assert window.history.minimumSizeHint().width() <= 800 - 40, "room for the window's frame and margins"
