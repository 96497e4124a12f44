"""The History tab and the export against a real server with seeded minutes, as a manager and as a member: the
figures shown are the server's, the file written is ``protocol.export``'s rows of the API's answer, and a member
only ever reads (and can export) their own days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from protocol import export
from protocol.schema import MemberDay, MemberDays, TeamDay, TeamDays
from support.keyrings import FileKeyring
from support.servers import ServerProcess
from support.team import Person, Team, get, make_team, post_batch, slot
from tests.ui.conftest import Launch
from ui.app import TrayApp
from ui.export_dialog import qt_date
from ui.history_tab import HistoryTab
from ui.history_view import Period, Span
from ui.present import duration, percent

ZONE = "Europe/Berlin"
TODAY = datetime.now(ZoneInfo(ZONE)).date()
#: Wednesday of last week: its week and the week before are both complete and in the past.
DAY = TODAY - timedelta(days=TODAY.weekday() + 5)
READ_TIMEOUT_MS = 15_000


def minutes(day: date, hour: int, count: int) -> list[datetime]:
    start = datetime.combine(day, time(hour), ZoneInfo(ZONE)).astimezone(UTC)
    return [start + timedelta(minutes=i) for i in range(count)]


@pytest.fixture(scope="module")
def team(server: ServerProcess) -> Team:
    """A manager and two members; minutes on three days of DAY's week and two of the week before."""
    team = make_team(server, time_zone=ZONE)
    manager, member, _teammate = team.people
    week = Period.of(Span.WEEK, DAY)
    for person, active, idle in ((member, 60, 0), (manager, 30, 30)):
        seeded = [slot(m, active=active, idle=idle, input_s=active // 2) for d in week.days[:3]
                  for m in minutes(d, 9, 30)]
        seeded += [slot(m, active=active, idle=idle, input_s=active // 3) for d in week.step(-1).days[:2]
                   for m in minutes(d, 14, 20)]
        assert post_batch(server, person, seeded).status_code == 200
    breaks = [slot(m, active=0, break_s=60) for m in minutes(DAY, 12, 15)]
    assert post_batch(server, member, breaks).status_code == 200
    return team


def history(qtbot: QtBot, app: TrayApp) -> HistoryTab:
    tab = app.window.history
    qtbot.waitUntil(lambda: tab.viewer is not None, timeout=READ_TIMEOUT_MS)  # /me read: who the reader is
    app.window.tabs.setCurrentWidget(tab)
    return tab


def show(qtbot: QtBot, tab: HistoryTab, period: Period) -> None:
    tab.span.setCurrentText(period.span.value)
    tab.date.setDate(qt_date(period.start))
    qtbot.waitUntil(lambda: tab.answer is not None and tab.answer.period == period and not
                    tab.status.text().startswith("Reading"), timeout=READ_TIMEOUT_MS)


def pick(tab: HistoryTab, person: Person | None) -> None:
    tab.member.setCurrentIndex(tab.member.findData(None if person is None else person.user_id))


def figures(tab: HistoryTab) -> tuple[str, ...]:
    return tab.active.text(), tab.idle.text(), tab.breaks.text(), tab.activity.text()


def test_a_manager_sees_the_servers_numbers_for_the_team_and_each_member(qtbot: QtBot, server: ServerProcess,
                                                                          team: Team, launch: Launch) -> None:
    manager, member, teammate = team.people
    tab = history(qtbot, launch(manager))
    show(qtbot, tab, Period.of(Span.DAY, DAY))
    answer = TeamDay.model_validate_json(get(server, manager, f"/api/v1/team/days/{DAY}").content)
    assert [tab.member.itemText(i) for i in range(tab.member.count())] == ["Whole team", *sorted(
        p.name for p in team.people)]
    team_totals = answer.totals
    assert figures(tab) == (duration(team_totals.active_s), duration(team_totals.idle_s),
                            duration(team_totals.break_s), percent(team_totals.activity_pct))
    assert team_totals.active_s > 0 and team_totals.break_s > 0, "the seed reached the server"
    assert sum(bar.active_s for bar in tab.chart.bars) == team_totals.active_s
    firsts = [m.first_activity for m in answer.members if m.first_activity]
    assert tab.first.text() == min(firsts).astimezone(ZoneInfo(ZONE)).strftime("%H:%M") == "09:00"
    assert tab.members.rowCount() == 3, "the whole team's day lists each member"

    for person in (member, teammate):
        pick(tab, person)
        row = next(m for m in answer.members if m.user_id == person.user_id)
        assert figures(tab) == (duration(row.totals.active_s), duration(row.totals.idle_s),
                                duration(row.totals.break_s), percent(row.totals.activity_pct))
    assert "No minutes recorded" in tab.status.text(), "the teammate has no minutes: say so and what to do"
    assert tab.status.isVisibleTo(tab)

    kept = answer.retention.minutes_days
    show(qtbot, tab, Period.of(Span.DAY, TODAY - timedelta(days=kept + 1)))
    assert tab.status.text() == (f"Nothing is kept for this day: minutes older than {kept} days are deleted. "
                                 "Pick a more recent date."), "the server's retention, in words"
    pick(tab, member)
    show(qtbot, tab, Period.of(Span.DAY, DAY))
    assert not tab.status.isVisibleTo(tab), "a day with minutes needs no note"

    tab.next.click()
    assert tab.answer.period != tab.period and tab.status.text() == "Reading…", (
        "the read runs on a worker: its answer arrives after the click has returned")
    week = Period.of(Span.WEEK, DAY)
    show(qtbot, tab, week)
    previous = week.step(-1)
    days = MemberDays.model_validate_json(get(
        server, manager, f"/api/v1/team/members/{member.user_id}/days?start={previous.start}&end={week.end}").content)
    this_week = sum(d.totals.active_s for d in days.days if d.date >= week.start)
    last_week = sum(d.totals.active_s for d in days.days if d.date < week.start)
    assert this_week > last_week > 0
    assert tab.active.text() == f"{duration(this_week)}, +{duration(this_week - last_week)} vs previous week"
    assert [bar.active_s for bar in tab.chart.bars] == [d.totals.active_s for d in days.days if d.date >= week.start]


def test_history_reads_use_the_agents_token_cache(qtbot: QtBot, team: Team, launch: Launch,
                                                 file_keyring: FileKeyring) -> None:
    """Issue 15 review, item 5: the History tab's reads take the token from the agent's cache, not from the OS
    keyring (slow, maybe a prompt) at each read. At most one keyring read in the meantime: the agent's own cache
    may expire (once a minute) while the machine is slow."""
    tab = history(qtbot, launch(team.people[0]))
    show(qtbot, tab, Period.of(Span.DAY, DAY))
    before = file_keyring.reads
    assert before >= 1, "the agent's own read at start is counted (its keyring child's too)"
    for back in range(1, 6):
        show(qtbot, tab, Period.of(Span.DAY, DAY - timedelta(days=back)))
    assert file_keyring.reads - before <= 1


def test_the_export_writes_protocol_exports_rows_of_the_api_answer(qtbot: QtBot, server: ServerProcess, team: Team,
                                                                   launch: Launch, tmp_path: Path) -> None:
    manager, member, _teammate = team.people
    tab = history(qtbot, launch(manager))
    show(qtbot, tab, Period.of(Span.WEEK, DAY))
    dialog = tab.open_export()
    assert dialog is not None
    start, end = DAY - timedelta(days=9), DAY + timedelta(days=2)
    dialog.start.setDate(qt_date(start))
    dialog.end.setDate(qt_date(end))

    csv_file = tmp_path / "team.csv"
    dialog.who.setCurrentIndex(dialog.who.findData(None))
    dialog.format.setCurrentText("CSV")
    dialog.path.setText(str(csv_file))
    dialog.save.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Saved"), timeout=READ_TIMEOUT_MS)
    answer = TeamDays.model_validate_json(get(server, manager, f"/api/v1/team/days?start={start}&end={end}").content)
    assert csv_file.read_bytes().decode() == export.team_csv(answer)
    assert len(csv_file.read_text().splitlines()) == 1 + 3 * 12, "a header and each member's 12 days"

    json_file = tmp_path / "member.json"
    dialog.who.setCurrentIndex(dialog.who.findData(member.user_id))
    dialog.format.setCurrentText("JSON")
    dialog.path.setText(str(json_file))
    dialog.save.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Saved") and json_file.exists(),
                    timeout=READ_TIMEOUT_MS)
    path = f"/api/v1/team/members/{member.user_id}/days?start={start}&end={end}"
    assert json.loads(json_file.read_text()) == get(server, manager, path).json()

    dialog.path.setText(str(tmp_path / "no-such-folder" / "member.json"))
    dialog.save.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Not exported"), timeout=READ_TIMEOUT_MS)
    assert "could not be written" in dialog.outcome.text() and "Pick another folder" in dialog.outcome.text()
    assert dialog.save.isEnabled(), "a failed export can be tried again"

    dialog.end.setDate(qt_date(start + timedelta(days=62)))
    dialog.save.click()
    assert "at most 62 days" in dialog.outcome.text(), "a range the server refuses is caught with words"


def test_a_member_sees_only_their_own_history(qtbot: QtBot, server: ServerProcess, team: Team,
                                             launch: Launch) -> None:
    _manager, member, _teammate = team.people
    tab = history(qtbot, launch(member))
    show(qtbot, tab, Period.of(Span.DAY, DAY))
    assert [tab.member.itemText(i) for i in range(tab.member.count())] == ["Me"]
    own = get(server, member, f"/api/v1/team/members/{member.user_id}/days/{DAY}").json()
    assert figures(tab) == (duration(own["totals"]["active_s"]), duration(own["totals"]["idle_s"]),
                            duration(own["totals"]["break_s"]), percent(own["totals"]["activity_pct"]))
    assert tab.answer is not None and {row.user_id for row in tab.answer.days} == {member.user_id}
    assert not tab.members.isVisible()

    show(qtbot, tab, Period.of(Span.WEEK, DAY))
    assert tab.answer is not None and {row.user_id for row in tab.answer.ranges} == {member.user_id}

    # issue 15 review, item 6: a day past the retention window is said to be deleted, not "not recorded"
    kept = MemberDay.model_validate_json(get(server, member, f"/api/v1/team/members/{member.user_id}/days/{DAY}")
                                         .content).retention
    assert kept is not None, "the member routes say what the server keeps"
    old = TODAY - timedelta(days=kept.minutes_days + 8)
    for period in (Period.of(Span.DAY, old), Period.of(Span.WEEK, old)):
        show(qtbot, tab, period)
        assert "No minutes recorded" not in tab.status.text()
        assert f"minutes older than {kept.minutes_days} days are deleted" in tab.status.text(), tab.status.text()

    dialog = tab.open_export()
    assert dialog is not None
    assert [dialog.who.itemData(i) for i in range(dialog.who.count())] == [member.user_id], "no team export"
