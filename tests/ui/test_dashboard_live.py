"""The Team tab's "Today, live" dashboard and the Me tab's strip against a real server: a manager's strips,
numbers, totals, sorting and search; what a member sees; the rows greyed "as of" during an outage, the own row
after a revoke, the last view shown at a start with the server down; and one time zone for the window when the
account's is not the PC's (``TZ`` in this process)."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from pytestqt.qtbot import QtBot

from protocol.schema import Me, MinuteMark, PresenceState
from server import admin
from server.migrate import run_in_session
from support.proxy import FaultProxy
from support.servers import ServerProcess
from support.team import admin_cli, get, make_team, post_batch, put_presence, recent_minutes, slot
from sync.live import LinkState
from tests.ui.conftest import Launch
from tests.ui.test_window_live import LIVE_TIMEOUT_MS, today_zone, wait_live
from ui import last_view, theme
from ui.app import TrayApp
from ui.day_view import Row, minute_index


def rows(app: TrayApp) -> dict[str, Row]:
    model = app.window.team.model
    return {model.member(row).name: model.shown(row) for row in range(model.rowCount())}


def shown_names(app: TrayApp) -> list[str]:
    """The names in the order the table shows them (sorted and filtered)."""
    proxy = app.window.team.filter
    return [str(proxy.data(proxy.index(row, 0))) for row in range(proxy.rowCount())]


def test_a_manager_sees_every_strip_the_numbers_and_the_totals_sorted_and_searched(
        qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    zone = today_zone()
    team = make_team(server, time_zone=zone)
    manager, worker, rester = team.people
    minutes = recent_minutes(6)
    assert post_batch(server, worker, [slot(m, active=60, input_s=30) for m in minutes]).status_code == 200
    assert post_batch(server, rester, [slot(m, active=0, break_s=60) for m in minutes[:3]]).status_code == 200
    assert put_presence(server, rester, "break", seq=1).status_code == 200
    app = launch(manager)
    wait_live(qtbot, app, 3)
    qtbot.waitUntil(lambda: app.team_day is not None, timeout=LIVE_TIMEOUT_MS)

    seen = rows(app)
    strip = seen[worker.name].strip
    assert strip is not None and strip.now is not None
    for moment in minutes:
        index = minute_index(moment, moment.astimezone(ZoneInfo(zone)).date(), zone)
        assert index is not None and strip.timeline[index] == MinuteMark.ACTIVE.value
    rest = seen[rester.name].strip
    assert rest is not None and rest.timeline.count(MinuteMark.BREAK.value) >= 3
    assert seen[rester.name].state is PresenceState.BREAK
    assert app.window.team.model.data(app.window.team.model.index(
        [app.window.team.model.member(r).name for r in range(3)].index(rester.name), 1)).startswith("Break · ")
    assert app.window.team.totals.text() == "3 people · active 6 min · activity 50 % · breaks 3 min"

    table, proxy = app.window.team.table, app.window.team.filter
    columns = app.window.team.model.columns
    table.sortByColumn(columns.index("Active today"), Qt.SortOrder.DescendingOrder)
    assert shown_names(app)[0] == worker.name
    table.sortByColumn(columns.index("Breaks"), Qt.SortOrder.DescendingOrder)
    assert shown_names(app)[0] == rester.name
    app.window.team.search.setText(worker.name)
    assert shown_names(app) == [worker.name]
    app.window.team.search.setText("break")
    assert shown_names(app) == [rester.name]
    app.window.team.search.clear()
    assert proxy.rowCount() == 3

    # the strip is painted in its cell: the active colour inside the worker's "Today" cell
    app.window.tabs.setCurrentWidget(app.window.team)
    table.resize(900, 300)
    at = proxy.index(shown_names(app).index(worker.name), columns.index("Today"))
    image = table.viewport().grab(table.visualRect(at)).toImage()
    colours = {image.pixelColor(x, image.height() // 2).name() for x in range(image.width())}
    assert QColor(theme.colors().active).name() in colours, colours


def test_the_team_day_is_read_once_for_a_burst_of_updates(qtbot: QtBot, server: ServerProcess,
                                                           launch: Launch) -> None:
    """A manager's strips are re-read when the team's numbers change, but at most once a minute
    (``TEAM_DAY_EVERY_S``): an upload right after the first read moves the numbers at once (its
    ``team-performance-update``) and does not read the day again. Counted at a proxy in front of the server."""
    team = make_team(server, time_zone=today_zone())
    manager, worker = team.people[0], team.people[1]
    proxy = FaultProxy(server.url).start()
    try:
        app = launch(manager, url=proxy.url)
        wait_live(qtbot, app, 3)
        qtbot.waitUntil(lambda: app.team_day is not None, timeout=LIVE_TIMEOUT_MS)

        def day_reads() -> int:
            return sum(1 for method, path, _ in list(proxy.seen)
                       if method == "GET" and path.startswith("/api/v1/team/days/"))

        assert day_reads() == 1
        for batch in (recent_minutes(3, ago=16), recent_minutes(3, ago=12)):  # within today_zone()'s 20 minutes
            assert post_batch(server, worker, [slot(m, active=60, input_s=30) for m in batch]).status_code == 200
        qtbot.waitUntil(lambda: (totals := rows(app)[worker.name].totals) is not None and totals.active_s == 360,
                        timeout=LIVE_TIMEOUT_MS)
        app.refresh()
        assert day_reads() == 1, "read again within the minute"
    finally:
        proxy.stop()


def test_a_member_sees_states_of_others_and_only_their_own_strip(qtbot: QtBot, server: ServerProcess,
                                                                 launch: Launch) -> None:
    zone = today_zone()
    team = make_team(server, time_zone=zone)
    me, other = team.people[1], team.people[2]
    minutes = recent_minutes(4)
    assert post_batch(server, me, [slot(m, active=60, input_s=30) for m in minutes]).status_code == 200
    assert post_batch(server, other, [slot(m, active=60, input_s=30) for m in minutes]).status_code == 200
    app = launch(me)
    wait_live(qtbot, app, 3)
    qtbot.waitUntil(lambda: rows(app)[me.name].strip is not None, timeout=5000)
    seen = rows(app)
    own = seen[me.name].strip
    assert own is not None and own.timeline.count(MinuteMark.ACTIVE.value) >= 4
    assert [name for name, row in seen.items() if row.strip is not None or row.totals is not None] == [me.name]
    assert app.team_day is None, "a member never reads the team's day"
    assert app.window.team.totals.text() == "3 people"
    assert app.window.me.strip.strip == own, "the Me tab shows the same own strip"


@pytest.fixture
def new_york() -> Iterator[None]:
    """This process's local time zone set to New York (``TZ``), for the window's time zone rule."""
    before = time.tzname
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        assert time.tzname != before or "EST" in time.tzname
        yield
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_one_time_zone_the_accounts_named_where_it_is_not_the_pcs(qtbot: QtBot, server: ServerProcess,
                                                                  launch: Launch) -> None:
    """Issue 15, item 9: the header, the Sync tab and the chart all use the account's zone (Tokyo here), and the
    window says so because the PC's clock (New York) differs."""
    tokyo = ZoneInfo("Asia/Tokyo")
    me = make_team(server, time_zone="Asia/Tokyo").people[1]
    app = launch(me)
    wait_live(qtbot, app, 3)
    qtbot.waitUntil(lambda: app.me is not None and app.sync_status.last_success is not None
                    and app.own_since is not None, timeout=LIVE_TIMEOUT_MS)
    app.refresh()
    assert "Times in Asia/Tokyo" in app.window.updated.text()
    assert app.snapshot is not None
    assert app.snapshot.updated.astimezone(tokyo).strftime("%H:%M:%S") in app.window.updated.text()
    assert app.own_since is not None
    assert f"since {app.own_since.astimezone(tokyo):%H:%M}" in app.window.own_state.text()
    success = app.sync_status.last_success
    qtbot.waitUntil(lambda: f"{success.astimezone(tokyo):%H:%M}" in app.window.sync.result.text(), timeout=5000)
    assert f"{success.astimezone():%H:%M}" not in app.window.sync.result.text(), "not the PC's clock"
    strip = app.window.me.strip.strip
    assert strip is not None and strip.now == minute_index(datetime.now(UTC), app.snapshot.own_date, "Asia/Tokyo")


def db(server: ServerProcess, work: Any) -> Any:
    return asyncio.run(run_in_session(server.database_url, work))


def kept(app: TrayApp) -> dict[str, Any] | None:
    """``last_view.json`` as the app wrote it, None while there is none."""
    try:
        view: dict[str, Any] = json.loads((app.data_dir / last_view.FILE_NAME).read_text())
    except FileNotFoundError:
        return None
    return view


def test_a_manager_demoted_while_the_window_is_open_keeps_none_of_the_teams_numbers(
        qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    """Issue 15 review, item 1: ``users rename --role member`` (IT's CLI, another process) reaches the window with
    the ``roster`` event; ``/me`` is read again and the others' strips and totals go, from the window and from
    ``last_view.json``."""
    team = make_team(server, time_zone=today_zone())
    manager, worker = team.people[0], team.people[1]
    assert post_batch(server, worker, [slot(m, active=60, input_s=30) for m in recent_minutes(4)]).status_code == 200
    app = launch(manager)
    wait_live(qtbot, app, 3)
    qtbot.waitUntil(lambda: app.team_day is not None and rows(app)[worker.name].strip is not None,
                    timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: (view := kept(app)) is not None and view["team_day"] is not None, timeout=15_000)
    history = app.window.history
    app.window.tabs.setCurrentWidget(history)
    qtbot.waitUntil(lambda: history.members.rowCount() == 3, timeout=LIVE_TIMEOUT_MS)  # the team's day
    app.window.tabs.setCurrentWidget(app.window.team)

    admin_cli(server, "users", "rename", manager.login, "--role", "member")

    def others_numbers() -> list[str]:
        return [name for name, row in rows(app).items()
                if name != manager.name and (row.strip is not None or row.totals is not None)]

    # the CLI's change reaches the server's sweep, then the roster event (and the server's disconnect) the window
    qtbot.waitUntil(lambda: app.me is not None and app.me.user.role == "member" and not others_numbers(),
                    timeout=2 * LIVE_TIMEOUT_MS)
    assert app.team_day is None
    assert "Active today" not in app.window.team.model.columns
    assert history.answer is None and history.members.rowCount() == 0, "the History tab let go of the team's day"
    assert [history.member.itemText(i) for i in range(history.member.count())] == ["Me"]
    qtbot.waitUntil(lambda: (view := kept(app)) is not None and view["team_day"] is None
                    and all(member["totals"] is None for member in view["members"]
                            if member["user_id"] != manager.user_id), timeout=15_000)


def test_a_view_kept_by_another_user_is_dropped_and_deleted_once_me_answers(
        qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    """Issue 15 review, item 2: another person enrolling on this PC does not see the last user's view: shown
    from disk before anyone is known (not enrolled here), it goes when ``/me`` names someone else, and so does
    its file."""
    before = make_team(server, time_zone=today_zone()).people[0]
    first = launch(before)
    wait_live(qtbot, first, 3)
    qtbot.waitUntil(lambda: kept(first) is not None, timeout=15_000)
    first.quit()
    assert first.wait_stopped(30)

    after = make_team(server).people[1]
    app = launch(None, data=first.data_dir)
    qtbot.waitUntil(lambda: app.from_disk and app.window.team.model.rowCount() == 3, timeout=5000)
    assert before.name in rows(app)
    app.bridge.me.emit(Me.model_validate(get(server, after, "/api/v1/me").json()))  # as sync.live hands it on
    assert app.snapshot is None and app.window.team.model.rowCount() == 0
    qtbot.waitUntil(lambda: kept(app) is None, timeout=5000)


def test_after_a_revoke_the_own_row_is_not_active(qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    """Also (issue 15 review, items 2 and 4): the own strip's present, not uploaded and never to be, is no longer
    painted active, and ``last_view.json`` is deleted: the view is no longer this device's to show at a start."""
    me = make_team(server).people[1]
    app = launch(me)
    wait_live(qtbot, app, 3)
    assert rows(app)[me.name].state is PresenceState.ACTIVE

    def present_mark() -> str | None:
        strip = app.window.me.strip.strip
        return strip.timeline[strip.now] if strip is not None and strip.now is not None else None

    qtbot.waitUntil(lambda: present_mark() == MinuteMark.ACTIVE.value and kept(app) is not None,
                    timeout=LIVE_TIMEOUT_MS)
    db(server, lambda s, now: admin.revoke_device(s, device_id=me.device_id, now=now))
    qtbot.waitUntil(lambda: app.link.refused is not None, timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: rows(app)[me.name].state is not PresenceState.ACTIVE, timeout=1000)
    assert app.window.team.as_of.isVisible() and app.window.team.model.stale
    app.refresh()
    assert present_mark() == MinuteMark.NONE.value
    qtbot.waitUntil(lambda: kept(app) is None, timeout=5000)


# The websocket attempts that fail while the server is down leave their sockets to the garbage collector (see
# test_window_live.py's outage test): collected here so their ResourceWarning is ignored.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_an_outage_greys_the_team_and_a_start_with_the_server_down_shows_the_last_view(
        qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    """Issue 15, item 3. Last in this module: it stops the module's server (and starts it again)."""
    me = make_team(server).people[1]
    app = launch(me)
    wait_live(qtbot, app, 3)
    assert not app.window.team.as_of.isVisible() and not app.window.team.model.stale
    saved = app.data_dir / last_view.FILE_NAME
    qtbot.waitUntil(saved.exists, timeout=15_000)
    kept = json.loads(saved.read_text())
    assert kept["team_day"] is None and all(member["totals"] is None for member in kept["members"]), \
        "a member's file holds no one's numbers"

    server.stop()
    try:
        qtbot.waitUntil(lambda: app.link.state is not LinkState.LIVE, timeout=5000)
        assert app.window.team.as_of.isVisible()
        assert app.window.team.as_of.text().startswith("Not live: as of ")
        model = app.window.team.model
        grey = model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole)
        assert model.stale and grey is not None and grey != QGuiApplication.palette().color(QPalette.ColorRole.Text)
        app.quit()
        assert app.wait_stopped(30)

        again = launch(me, data=app.data_dir)
        qtbot.waitUntil(lambda: again.window.team.model.rowCount() == 3, timeout=5000)
        assert again.link.state is not LinkState.LIVE and again.from_disk
        assert again.window.team.as_of.text().startswith("Last known view, as of ")
        assert again.window.team.model.stale
        assert rows(again)[me.name].own and rows(again)[me.name].strip is not None, "the own row, before /me"
    finally:
        server.start()  # the live view replacing the greyed one: test_window_live.py's outage test
    gc.collect()
