"""The live team view against a real server and real python-socketio: snapshot after every connect, events
applied on top, polling while the socket is down, and a refused token ending the retries for good.

``TeamModel``'s rules (at the end) are checked without a network."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from protocol.refusals import FINAL, ConnectRefusal
from protocol.schema import (
    DayReport,
    DeviceEnrolledEvent,
    PerformanceEvent,
    PresenceEvent,
    PresenceState,
    Role,
    RosterChangeKind,
    RosterEvent,
    Slot,
    TeamMember,
    TeamPublic,
    TeamView,
    Totals,
)
from server import admin
from server.migrate import run_in_session
from server.models import Device
from support.proxy import FaultProxy
from support.servers import ServerProcess, free_port, sqlite_server
from support.team import LiveClient, Person, Team, enroll, issue_code, post_batch, put_presence, recent_minutes, slot
from support.waiting import wait_on
from sync.api import ApiClient
from sync.backoff import RECONNECT_SOON_CAP_S
from sync.errors import NotEnrolled, in_words
from sync.live import LinkState, LiveConnection, LiveStatus, TeamModel, TeamSnapshot, device_notice

BERLIN = ZoneInfo("Europe/Berlin")  # make_team's zone


class Ceiling(random.Random):
    """Every random draw at its upper bound, so backoff and poll intervals are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Recorder:
    """Everything a ``LiveConnection`` reports, in order, with waiting."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.views: list[tuple[str, TeamSnapshot]] = []  # ("snapshot" | "change", view)
        self.statuses: list[LiveStatus] = []
        self.token_calls = 0
        self.team_reads: list[float] = []  # monotonic times of GET /api/v1/team
        self.day_reads: list[date] = []  # GET /api/v1/me/days/{date}
        self.devices: list[DeviceEnrolledEvent] = []  # on_device_enrolled
        self._changed = threading.Condition()

    def token(self) -> str:
        def count() -> None:
            self.token_calls += 1

        self._record(count)
        return self.person.token

    def read_team(self) -> None:
        self._record(lambda: self.team_reads.append(time.monotonic()))

    def read_day(self, day: date) -> None:
        self._record(lambda: self.day_reads.append(day))

    def snapshot(self, view: TeamSnapshot) -> None:
        self._record(lambda: self.views.append(("snapshot", view)))

    def change(self, view: TeamSnapshot) -> None:
        self._record(lambda: self.views.append(("change", view)))

    def status(self, status: LiveStatus) -> None:
        self._record(lambda: self.statuses.append(status))

    def device_enrolled(self, event: DeviceEnrolledEvent) -> None:
        self._record(lambda: self.devices.append(event))

    def _record(self, add: Callable[[], None]) -> None:
        with self._changed:
            add()
            self._changed.notify_all()

    @property
    def latest(self) -> TeamSnapshot:
        with self._changed:
            return self.views[-1][1]

    def snapshots(self) -> int:
        with self._changed:
            return sum(kind == "snapshot" for kind, _view in self.views)

    def states(self) -> list[LinkState]:
        with self._changed:
            return [status.state for status in self.statuses]

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        if not wait_on(self._changed, condition, timeout):
            raise AssertionError(f"not within {timeout} s: {what}; states {self.states()}")

    def member(self, user_id: int) -> TeamMember:
        return next(m for m in self.latest.members if m.user_id == user_id)


class CountingApi(ApiClient):
    def __init__(self, url: str, recorder: Recorder) -> None:
        super().__init__(url, recorder.token)
        self._recorder = recorder

    def team(self) -> TeamView:
        self._recorder.read_team()
        return super().team()

    def day(self, day: date) -> DayReport:
        self._recorder.read_day(day)
        return super().day(day)


Open = Callable[..., tuple[LiveConnection, Recorder]]


@pytest.fixture
def open_live(server: ServerProcess) -> Iterator[Open]:
    opened: list[LiveConnection] = []

    def open_(person: Person, *, url: str | None = None, **options: Any) -> tuple[LiveConnection, Recorder]:
        recorder = Recorder(person)
        options = {"retry_base_s": 0.2, "retry_cap_s": 1.0, "rng": Ceiling(), **options}
        connection = LiveConnection(url or server.url, recorder.token, CountingApi(server.url, recorder),
                                    on_snapshot=recorder.snapshot, on_change=recorder.change,
                                    on_status=recorder.status, on_device_enrolled=recorder.device_enrolled,
                                    **options)
        opened.append(connection)
        connection.start()
        return connection, recorder

    yield open_
    for connection in opened:
        connection.stop()


def wait_live(connection: LiveConnection, recorder: Recorder, timeout: float = 5.0) -> None:
    recorder.wait(lambda: connection.status.state is LinkState.LIVE, timeout, "live")


def db(server: ServerProcess, work: Any) -> Any:
    return asyncio.run(run_in_session(server.database_url, work))


def test_connects_live_and_delivers_a_snapshot_first(open_live: Open, team: Team) -> None:
    manager = team.by_role("manager")[0]
    connection, recorder = open_live(manager)
    wait_live(connection, recorder)
    assert recorder.states() == [LinkState.RECONNECTING, LinkState.LIVE]
    kind, view = recorder.views[0]
    assert kind == "snapshot"
    assert {m.user_id for m in view.members} == {p.user_id for p in team.people}
    assert all(m.totals is not None for m in view.members)  # a manager's view carries totals
    assert view.own_date == datetime.now(BERLIN).date()  # "today" from me().user.time_zone
    assert connection.status.last_update == view.updated
    assert connection.transport == "websocket"


def test_teammate_break_shows_within_a_second(server: ServerProcess, open_live: Open, team: Team) -> None:
    member, teammate = team.by_role("member")
    connection, recorder = open_live(member, time_zone="Europe/Berlin")
    wait_live(connection, recorder)
    assert put_presence(server, teammate, "break", seq=1).status_code == 200
    recorder.wait(lambda: recorder.member(teammate.user_id).state is PresenceState.BREAK, 1.0, "teammate on break")
    assert recorder.views[-1][0] == "change"
    assert recorder.member(teammate.user_id).totals is None  # members never see others' metrics


def test_performance_updates_own_totals_and_managers_member_totals(server: ServerProcess, open_live: Open,
                                                                    team: Team) -> None:
    manager, member = team.by_role("manager")[0], team.by_role("member")[0]
    own, own_recorder = open_live(member)
    boss, boss_recorder = open_live(manager)
    wait_live(own, own_recorder)
    wait_live(boss, boss_recorder)
    before = boss_recorder.member(member.user_id).totals
    assert before is not None and own_recorder.latest.own_totals.keys == 0
    answer = post_batch(server, member, [slot(start, keys=7) for start in recent_minutes(3, ago=1)])
    assert answer.status_code == 200, answer.text
    own_recorder.wait(lambda: own_recorder.latest.own_totals.keys == 21, 2.0, "own totals updated")
    boss_recorder.wait(lambda: (boss_recorder.member(member.user_id).totals or Totals()).keys == 21, 2.0,
                       "the manager sees the member's totals")
    assert boss_recorder.latest.own_totals.keys == 0  # the manager's own day is untouched


def test_event_for_a_user_not_in_the_snapshot_rereads_the_team(server: ServerProcess, open_live: Open,
                                                               team: Team) -> None:
    member = team.by_role("member")[0]
    connection, recorder = open_live(member)
    wait_live(connection, recorder)
    login = f"late@{team.name}.example"
    db(server, lambda s, now: admin.create_user(s, team=team.name, login=login, name="Late", now=now,
                                                time_zone="Europe/Berlin"))
    body = enroll(server, issue_code(server, login))
    late = Person(user_id=body["user"]["id"], login=login, name="Late", role="member", token=body["token"],
                  device_id=body["device_id"])
    put_presence(server, late, "idle", seq=1)
    # Either way in: the presence event of a user the snapshot lacks re-reads the team, or the server's
    # ``roster`` event (its announce pass) adds the member first and the presence event then applies.
    recorder.wait(lambda: any(m.user_id == late.user_id and m.state is PresenceState.IDLE
                              for m in recorder.latest.members), 5.0, "the new teammate appears, idle")
    assert recorder.snapshots() <= 2, "one re-read at most"


def test_server_restart_reconnects_rereads_and_polls_meanwhile(server: ServerProcess, open_live: Open,
                                                               team: Team) -> None:
    member = team.by_role("member")[0]
    connection, recorder = open_live(member, poll_interval_s=0.2)
    wait_live(connection, recorder)
    server.stop(kill=True)
    try:
        recorder.wait(lambda: connection.status.state is LinkState.RECONNECTING, 3.0, "reconnecting")
        down_since = time.monotonic()
        recorder.wait(lambda: sum(t > down_since for t in recorder.team_reads) >= 3, 3.0, "polls while down")
        assert connection.status.state is LinkState.RECONNECTING
        reads = [t for t in recorder.team_reads if t > down_since]
        assert all(0.15 < later - earlier < 0.6 for earlier, later in itertools.pairwise(reads)), reads
    finally:
        server.start()
    # Most likely before the socket is back, so only the re-read after reconnecting can see it.
    assert post_batch(server, member, [slot(start, keys=4) for start in recent_minutes(2, ago=1)]).status_code == 200
    wait_live(connection, recorder, timeout=10.0)
    recorder.wait(lambda: recorder.latest.own_totals.keys == 8, 2.0, "totals uploaded after the restart")
    assert recorder.snapshots() >= 2
    assert recorder.states()[-2:] == [LinkState.RECONNECTING, LinkState.LIVE]


def test_after_a_restart_it_is_back_within_the_soon_cap_however_long_its_backoff(server: ServerProcess,
                                                                                 open_live: Open, team: Team) -> None:
    """A restart is the usual reason a live socket drops; agents must not sit out their backoff after it."""
    member = team.by_role("member")[0]
    connection, recorder = open_live(member, retry_base_s=30.0, retry_cap_s=60.0)  # backoff alone: 30 s
    wait_live(connection, recorder)
    # kill -9 rather than a graceful stop: a stopping uvicorn can still accept a websocket and close it at once,
    # and python-engineio's client then drops that socket unclosed (a ResourceWarning in some later test).
    server.stop(kill=True)
    recorder.wait(lambda: connection.status.state is LinkState.RECONNECTING, 3.0, "reconnecting")
    time.sleep(2 * RECONNECT_SOON_CAP_S)  # a few attempts fail while the server is down
    server.start()
    back = time.monotonic()
    wait_live(connection, recorder, timeout=RECONNECT_SOON_CAP_S + 5.0)
    assert time.monotonic() - back < RECONNECT_SOON_CAP_S + 5.0


def test_polls_the_team_view_while_the_socket_cannot_connect(server: ServerProcess, open_live: Open,
                                                             team: Team) -> None:
    member, teammate = team.by_role("member")
    dead = f"http://127.0.0.1:{free_port()}"
    connection, recorder = open_live(member, url=dead, poll_interval_s=0.2)
    recorder.wait(lambda: recorder.snapshots() >= 1, 2.0, "a polled snapshot")
    put_presence(server, teammate, "break", seq=1)
    recorder.wait(lambda: recorder.member(teammate.user_id).state is PresenceState.BREAK, 2.0, "polled change")
    assert connection.status.state is LinkState.RECONNECTING
    assert all(kind == "snapshot" for kind, _view in recorder.views)


def test_falls_back_to_polling_when_websockets_are_blocked(server: ServerProcess, open_live: Open,
                                                           team: Team) -> None:
    proxy = FaultProxy(server.url).start()  # plain HTTP only: a websocket upgrade through it fails
    try:
        member, teammate = team.by_role("member")
        connection, recorder = open_live(member, url=proxy.url)
        wait_live(connection, recorder)
        assert connection.transport == "polling"
        put_presence(server, teammate, "idle", seq=1)
        recorder.wait(lambda: recorder.member(teammate.user_id).state is PresenceState.IDLE, 2.0, "event")
        connection.stop()
    finally:
        proxy.stop()


def test_revoked_device_goes_offline_with_the_reason_and_stops_retrying(server: ServerProcess, open_live: Open,
                                                                        team: Team) -> None:
    member = team.by_role("member")[0]
    connection, recorder = open_live(member)  # polls every 30 s: the refusal comes from the socket's reconnect
    wait_live(connection, recorder)
    db(server, lambda s, now: admin.revoke_device(s, device_id=member.device_id, now=now))
    recorder.wait(lambda: connection.status.refused is not None, RECONNECT_SOON_CAP_S + 3.0, "refused")
    assert connection.status == LiveStatus(state=LinkState.OFFLINE, last_update=connection.status.last_update,
                                           refused=in_words(NotEnrolled("", ConnectRefusal.REVOKED)))
    assert connection.status.refused is not None and "An admin has revoked this device" in connection.status.refused
    recorder.wait(lambda: not connection.alive, 5.0, "the connection's thread ended: no retry can follow")
    assert connection.status.state is LinkState.OFFLINE


def test_unknown_token_is_refused_at_once(open_live: Open, team: Team) -> None:
    stranger = Person(user_id=0, login="x", name="x", role="member", token="garbage-token", device_id=0)
    connection, recorder = open_live(stranger, time_zone="UTC")
    recorder.wait(lambda: connection.status.refused is not None, 3.0, "refused")
    assert connection.status.refused == in_words(NotEnrolled("", ConnectRefusal.UNKNOWN_TOKEN))
    assert LinkState.LIVE not in recorder.states()
    assert recorder.views == []


UNKNOWN_TOKEN_WORDS = b"unknown token: enroll this device again"


def refused_through(open_live: Open, proxy: FaultProxy, *rewrites: tuple[bytes, bytes]) -> tuple[LiveConnection,
                                                                                                Recorder]:
    """A device with a token the real server does not know, connecting through a proxy that rewrites the
    server's refusal (``unknown_token``) on its way: long polling, as websockets do not pass that proxy."""
    proxy.rewrites.extend(rewrites)
    stranger = Person(user_id=0, login="x", name="x", role="member", token="garbage-token", device_id=0)
    return open_live(stranger, url=proxy.url, time_zone="UTC", poll_interval_s=3600.0)


@pytest.fixture(scope="module")
def quick_ping_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server with a 1 s ping interval and timeout. A connect refused over long polling returns only once
    the server ends the long poll python-engineio leaves open (sync/live.py): a session closed under that poll
    answers it after ping interval + ping timeout, 40 s at the defaults, so every attempt of the tests below
    would take that long. No socket of theirs ever gets live, so a short timeout cannot drop one."""
    with sqlite_server(tmp_path_factory.mktemp("quick-ping"), "--ping-interval", "1", "--ping-timeout", "1") as process:
        yield process


@pytest.fixture
def proxy(quick_ping_server: ServerProcess) -> Iterator[FaultProxy]:
    """Tests name it before ``open_live``, so their connections stop before it does: a connection whose proxy
    vanished mid-connect waits out ``CONNECT_WAIT_S`` (10 s) for a namespace answer before it sees the stop."""
    with FaultProxy(quick_ping_server.url) as front:
        yield front


def test_a_refusal_is_decided_by_its_code_not_its_words(proxy: FaultProxy, open_live: Open) -> None:
    """Reworded, a final refusal still stops; and the words of a final refusal under a retryable code do not."""
    connection, recorder = refused_through(open_live, proxy, (UNKNOWN_TOKEN_WORDS, b"please come back later"))
    recorder.wait(lambda: connection.status.refused is not None, 10.0, "refused")
    assert connection.status.refused == in_words(NotEnrolled("", ConnectRefusal.UNKNOWN_TOKEN)), "by its code"
    recorder.wait(lambda: not connection.alive, 5.0, "no more retries")

    proxy.rewrites[:] = [(b'"unknown_token"', b'"too_many_sockets"')]  # the old words, a retryable code
    retrying, recorder = refused_through(open_live, proxy)
    recorder.wait(lambda: recorder.token_calls >= 6, 15.0, "several attempts")
    assert retrying.status.refused is None and retrying.alive
    assert retrying.status.state is LinkState.RECONNECTING


@pytest.mark.parametrize("code", sorted(FINAL))
def test_each_final_code_stops_the_retries(proxy: FaultProxy, open_live: Open, code: ConnectRefusal) -> None:
    connection, recorder = refused_through(open_live, proxy, (b'"unknown_token"', f'"{code}"'.encode()))
    recorder.wait(lambda: connection.status.refused is not None, 10.0, "refused")
    recorder.wait(lambda: not connection.alive, 5.0, "the connection's thread ended: no retry can follow")
    assert connection.status.state is LinkState.OFFLINE
    assert connection.status.refused == in_words(NotEnrolled("", code))


def test_a_device_waiting_for_approval_keeps_retrying(proxy: FaultProxy, open_live: Open) -> None:
    """``device_pending``: the token is kept and the connection retries until an admin approves the device."""
    connection, recorder = refused_through(open_live, proxy, (b'"unknown_token"', b'"device_pending"'))
    recorder.wait(lambda: connection.status.awaiting_approval, 10.0, "awaiting approval")
    calls = recorder.token_calls
    recorder.wait(lambda: recorder.token_calls >= calls + 2, 15.0, "more attempts with the same token")
    assert connection.alive and connection.status.refused is None


def test_own_uploads_reach_the_snapshot_without_a_read(server: ServerProcess, open_live: Open, team: Team) -> None:
    """The uploader hands the minutes the server stored to ``uploaded``; the snapshot shows them at once and the
    server's ``performance-update`` brings the totals: the day is not read again."""
    member = team.by_role("member")[0]
    connection, recorder = open_live(member)
    wait_live(connection, recorder)
    day_reads = len(recorder.day_reads)
    starts = recent_minutes(3, ago=1)
    assert post_batch(server, member, [slot(start, keys=5) for start in starts]).status_code == 200
    sent = [Slot.model_validate(slot(start, keys=5)) for start in starts]
    connection.uploaded(sent)
    recorder.wait(lambda: recorder.latest.own_totals.keys == 15, 3.0, "totals from performance-update")
    recorder.wait(lambda: {s.start for s in recorder.latest.own_slots} >= set(starts), 3.0, "the minutes shown")
    assert len(recorder.day_reads) == day_reads and recorder.snapshots() == 1


# --- TeamModel, no network ------------------------------------------------------------------------------------

TODAY = date(2026, 11, 25)
NOON = datetime(2026, 11, 25, 12, tzinfo=UTC)


def member(user_id: int, *, totals: Totals | None = None) -> TeamMember:
    return TeamMember(user_id=user_id, name=f"U{user_id}", role=Role.MEMBER, state=PresenceState.ACTIVE,
                      since=NOON, last_seen=NOON, totals=totals)


def loaded(*members: TeamMember) -> TeamModel:
    model = TeamModel()
    model.load(TeamView(team=TeamPublic(id=1, name="t"), date=TODAY, members=list(members)),
               DayReport(date=TODAY, time_zone="UTC", totals=Totals(keys=5), slots=[]))
    return model


def performance(user_id: int, day: date, keys: int) -> PerformanceEvent:
    return PerformanceEvent(user_id=user_id, date=day, totals=Totals(keys=keys))


def test_model_applies_presence_on_top_of_the_snapshot() -> None:
    model = loaded(member(1), member(2))
    later = NOON + timedelta(minutes=5)
    assert model.apply_presence(PresenceEvent(user_id=2, name="U2", state=PresenceState.BREAK, since=later))
    view = model.snapshot(later)
    assert [(m.user_id, m.state, m.since) for m in view.members] == [
        (1, PresenceState.ACTIVE, NOON), (2, PresenceState.BREAK, later)]
    assert view.updated == later


def test_model_takes_last_seen_from_the_event_and_keeps_it_when_an_older_server_leaves_it_out() -> None:
    model = loaded(member(1), member(2))
    left = NOON + timedelta(minutes=3)
    assert model.apply_presence(PresenceEvent(user_id=2, name="U2", state=PresenceState.OFFLINE, since=left,
                                              last_seen=left))
    assert model.apply_presence(PresenceEvent(user_id=1, name="U1", state=PresenceState.IDLE, since=left))
    last_seen = {m.user_id: m.last_seen for m in model.snapshot(left).members}
    assert last_seen == {1: member(1).last_seen, 2: left}


def test_model_follows_the_roster_without_a_re_read() -> None:
    """Issue 15, item 4: joined members are listed (never seen; zero totals in a managers' view), renamed ones
    renamed, those who left dropped; a rename of someone the last read did not list asks for a re-read."""
    def roster(user_id: int, change: RosterChangeKind, name: str = "New", role: Role = Role.MEMBER) -> RosterEvent:
        return RosterEvent(user_id=user_id, name=name, role=role, change=change)

    assert not TeamModel().apply_roster(roster(3, RosterChangeKind.JOINED))
    model = loaded(member(1, totals=Totals(keys=1)), member(2, totals=Totals(keys=2)))
    assert model.apply_roster(roster(3, RosterChangeKind.JOINED))
    assert model.apply_roster(roster(1, RosterChangeKind.RENAMED, name="U1 renamed", role=Role.MANAGER))
    assert model.apply_roster(roster(2, RosterChangeKind.LEFT))
    assert not model.apply_roster(roster(9, RosterChangeKind.RENAMED))
    members = {m.user_id: m for m in model.snapshot(NOON).members}
    assert set(members) == {1, 3}
    assert (members[1].name, members[1].role, members[1].totals) == ("U1 renamed", Role.MANAGER, Totals(keys=1))
    assert (members[3].state, members[3].since, members[3].last_seen, members[3].totals) == (
        PresenceState.OFFLINE, None, None, Totals())
    assert model.apply_member_totals(performance(3, TODAY, 5))
    assert loaded(member(1)).apply_roster(roster(3, RosterChangeKind.JOINED))


def test_model_cannot_place_events_for_unknown_users_or_before_a_snapshot() -> None:
    event = PresenceEvent(user_id=9, name="U9", state=PresenceState.IDLE, since=NOON)
    empty = TeamModel()
    assert not empty.apply_presence(event)
    assert not empty.apply_own_totals(performance(1, TODAY, 1))
    with pytest.raises(RuntimeError):
        empty.snapshot(NOON)
    model = loaded(member(1))
    assert not model.apply_presence(event)
    assert not model.apply_member_totals(performance(9, TODAY, 1))
    assert [m.user_id for m in model.snapshot(NOON).members] == [1]


def test_model_member_totals_for_managers_never_go_back_a_day() -> None:
    model = loaded(member(1, totals=Totals(keys=10)))
    assert model.apply_member_totals(performance(1, TODAY, 12))
    assert model.apply_member_totals(performance(1, TODAY - timedelta(days=1), 99))  # a late upload: ignored
    assert model.snapshot(NOON).members[0].totals == Totals(keys=12)
    assert model.apply_member_totals(performance(1, TODAY + timedelta(days=1), 1))  # their midnight passed
    assert model.snapshot(NOON).members[0].totals == Totals(keys=1)


def test_model_own_totals_follow_the_newest_day() -> None:
    model = loaded(member(1))
    assert model.apply_own_totals(performance(1, TODAY, 8))
    assert model.apply_own_totals(performance(1, TODAY - timedelta(days=1), 99))
    view = model.snapshot(NOON)
    assert (view.own_date, view.own_totals) == (TODAY, Totals(keys=8))
    model.apply_own_totals(performance(1, TODAY + timedelta(days=1), 2))
    view = model.snapshot(NOON)
    assert (view.own_date, view.own_totals) == (TODAY + timedelta(days=1), Totals(keys=2))


def test_another_device_enrolled_as_me_is_recorded_and_reported(server: ServerProcess, open_live: Open,
                                                                 team: Team) -> None:
    """``device-enrolled``: the person learns of a device enrolled in their name (issue 13, item 1); the
    announcement of this very device is no news and is not reported."""
    member = team.by_role("member")[0]
    connection, recorder = open_live(member)
    wait_live(connection, recorder)
    body = enroll(server, issue_code(server, member.login), device_name="someone-elses-pc")
    recorder.wait(lambda: any(e.device_id == body["device_id"] for e in recorder.devices), 5.0,
                  "the new device is reported")
    [event] = connection.devices_enrolled
    assert (event.name, event.enrolled_via, event.approved_at) == ("someone-elses-pc", "code", None)
    assert recorder.devices == [event], "this device's own announcement is not reported"
    assert "someone-elses-pc" in device_notice(event) and "a personal code" in device_notice(event)


def test_a_device_enrolled_as_me_while_i_was_away_is_reported_when_i_connect(server: ServerProcess,
                                                                              open_live: Open, team: Team) -> None:
    """The server announces a new device once; an agent not connected then learns of it from ``/me`` when it
    connects, and is told once however often it hears of it."""
    member = team.by_role("member")[0]
    body = enroll(server, issue_code(server, member.login), device_name="while-away-pc")

    async def announced(session: Any, _now: datetime) -> bool:
        return await session.scalar(select(Device.announced_at).where(Device.id == body["device_id"])) is not None

    deadline = time.monotonic() + 15
    while not db(server, announced):
        assert time.monotonic() < deadline, "the server did not announce the new device"
        time.sleep(0.1)
    connection, recorder = open_live(member)
    wait_live(connection, recorder)
    recorder.wait(lambda: bool(recorder.devices), 5.0, "the device enrolled while away is reported")
    [event] = connection.devices_enrolled
    assert (event.device_id, event.name) == (body["device_id"], "while-away-pc")
    LiveClient(server, member.token, reconnection=False).connect().close()  # replaces the agent's socket
    recorder.wait(lambda: recorder.states().count(LinkState.LIVE) >= 2, 10.0, "live again, /me read again")
    assert recorder.devices == [event], "told once"


def minute_at(start: datetime, keys: int) -> Slot:
    return Slot(start=start, tracked_s=60, active_s=60, idle_s=0, break_s=0, input_s=30, keys=keys, clicks=0,
                scrolls=0, mouse_px=0)


def test_model_own_slots_take_todays_uploads_and_start_afresh_on_a_new_day() -> None:
    model = TeamModel()
    assert not model.apply_own_slots([minute_at(NOON, 1)]), "nothing loaded yet"
    model = loaded(member(1))
    yesterday = minute_at(NOON - timedelta(days=1), 2)
    assert not model.apply_own_slots([yesterday]), "a late upload for yesterday is not today's"
    assert model.apply_own_slots([minute_at(NOON + timedelta(minutes=1), 3), minute_at(NOON, 4), yesterday])
    assert model.apply_own_slots([minute_at(NOON, 5)])  # sent again (a lost answer): the newest version
    view = model.snapshot(NOON)
    assert [(s.start, s.keys) for s in view.own_slots] == [(NOON, 5), (NOON + timedelta(minutes=1), 3)]
    model.apply_own_totals(performance(1, TODAY + timedelta(days=1), 0))
    assert model.snapshot(NOON).own_slots == ()


@pytest.mark.parametrize("totals_first", [False, True])
def test_model_the_first_upload_after_local_midnight_starts_the_new_day(totals_first: bool) -> None:
    """The uploader's minutes and the server's ``performance-update`` for the new day arrive in either order; the
    chart shows the new day's minutes either way (the slots used to be dropped, then cleared by the totals)."""
    model = loaded(member(1))
    assert model.apply_own_slots([minute_at(NOON, 1)])
    tomorrow = TODAY + timedelta(days=1)
    first_minute = datetime.combine(tomorrow, datetime.min.time(), UTC)  # loaded() cuts days in UTC
    if totals_first:
        assert model.apply_own_totals(performance(1, tomorrow, 4))
    assert model.apply_own_slots([minute_at(first_minute - timedelta(minutes=1), 2), minute_at(first_minute, 4)])
    if not totals_first:
        assert model.snapshot(NOON).own_totals.keys == 0, "the new day's totals come with its performance-update"
        assert model.apply_own_totals(performance(1, tomorrow, 4))
    view = model.snapshot(NOON)
    assert (view.own_date, view.own_totals.keys) == (tomorrow, 4)
    assert [(s.start, s.keys) for s in view.own_slots] == [(first_minute, 4)]
