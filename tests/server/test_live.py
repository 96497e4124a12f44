"""Live events: who hears what (the isolation matrix), presence ordering and offline after the grace period."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import socketio

from support.servers import ServerProcess
from support.team import (
    LiveClient,
    Person,
    Team,
    enroll,
    enroll_by_key,
    get,
    issue_code,
    make_team,
    new_key,
    post_batch,
    put_presence,
    recent_minutes,
    settle,
    slot,
)


@pytest.fixture
def two_teams(server: ServerProcess) -> tuple[Team, Team]:
    return make_team(server, roles=["manager", "member", "member"]), make_team(server, roles=["manager", "member"])


@pytest.fixture
def clients(server: ServerProcess, two_teams: tuple[Team, Team]) -> Iterator[dict[int, LiveClient]]:
    live = {p.user_id: LiveClient(server, p.token).connect() for team in two_teams for p in team.people}
    yield live
    for client in live.values():
        client.close()


def about(user_id: int) -> object:
    return lambda data: data["user_id"] == user_id


def test_isolation_matrix(server: ServerProcess, two_teams: tuple[Team, Team],
                          clients: dict[int, LiveClient]) -> None:
    (manager, alice, bob), (other_manager, carol) = two_teams[0].people, two_teams[1].people
    # Bob tries the seed's room-joining events for Alice and for the other team: the server must ignore them.
    bob_client = clients[bob.user_id]
    bob_client.sio.emit("join-user", alice.user_id)
    bob_client.sio.emit("join-team", carol.user_id)
    bob_client.sio.emit("join-user", {"userId": alice.user_id})

    noon = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    assert post_batch(server, alice, [slot(noon), slot(noon + timedelta(minutes=1))]).status_code == 200
    assert put_presence(server, alice, "break", seq=1).status_code == 200

    own = clients[alice.user_id].wait_for("performance-update", about(alice.user_id))
    assert own["totals"]["active_s"] == 120
    team_update = clients[manager.user_id].wait_for("team-performance-update", about(alice.user_id))
    assert team_update == own
    for teammate in (manager, bob):
        event = clients[teammate.user_id].wait_for(
            "presence", lambda d: d["user_id"] == alice.user_id and d["state"] == "break")
        assert set(event) == {"user_id", "name", "state", "since", "last_seen"}, "presence must carry no metrics"

    settle(0.5)
    for listener in (bob, manager):
        assert clients[listener.user_id].received("performance-update", about(alice.user_id)) == []
    for listener in (alice, bob):
        assert clients[listener.user_id].received("team-performance-update") == []
    for outsider in (other_manager, carol):
        client = clients[outsider.user_id]
        assert client.received("presence", about(alice.user_id)) == []
        assert client.received("performance-update") == []
        assert client.received("team-performance-update") == []


def test_managers_see_totals_members_do_not(server: ServerProcess, team: Team) -> None:
    manager, member = team.people[0], team.people[1]
    assert post_batch(server, member, [slot(recent_minutes(1, ago=1)[0], active=40, idle=20)]).status_code == 200
    as_manager = {m["user_id"]: m for m in get(server, manager, "/api/v1/team").json()["members"]}
    as_member = {m["user_id"]: m for m in get(server, member, "/api/v1/team").json()["members"]}
    assert set(as_manager) == set(as_member) == {p.user_id for p in team.people}
    assert as_manager[member.user_id]["totals"]["active_s"] >= 40
    assert all(m["totals"] is None for m in as_member.values())


def test_presence_older_seq_is_ignored(server: ServerProcess, team: Team) -> None:
    member = team.people[1]
    since = datetime.now(UTC)
    assert put_presence(server, member, "break", seq=5, since=since).json()["applied"] is True
    stale = put_presence(server, member, "active", seq=3, since=since - timedelta(minutes=1)).json()  # older by both
    assert (stale["applied"], stale["state"]) == (False, "break")
    view = {m["user_id"]: m for m in get(server, member, "/api/v1/team").json()["members"]}
    assert view[member.user_id]["state"] == "break"


def test_user_shows_most_present_device(server: ServerProcess, team: Team) -> None:
    member = team.people[1]
    body = enroll(server, issue_code(server, member.login), device_name="laptop")
    laptop = Person(member.user_id, member.login, member.name, member.role, body["token"], body["device_id"])
    since = datetime.now(UTC) - timedelta(minutes=5)
    put_presence(server, member, "break", seq=1, since=since)
    put_presence(server, laptop, "active", seq=1, since=since + timedelta(minutes=1))

    def shown() -> str:
        view = {m["user_id"]: m for m in get(server, team.people[0], "/api/v1/team").json()["members"]}
        return str(view[member.user_id]["state"])

    assert shown() == "active"
    put_presence(server, laptop, "idle", seq=2)
    assert shown() == "break"


def test_offline_after_grace_without_a_socket(server: ServerProcess, team: Team) -> None:
    manager, member = team.people[0], team.people[1]
    watcher = LiveClient(server, manager.token).connect()
    leaver = LiveClient(server, member.token).connect()
    try:
        watcher.wait_for("presence", lambda d: d["user_id"] == member.user_id and d["state"] == "active")
        leaver.close()
        gone = watcher.wait_for("presence", lambda d: d["user_id"] == member.user_id and d["state"] == "offline",
                                timeout=5)
        assert datetime.fromisoformat(gone["since"]) <= datetime.now(UTC)
        assert gone["last_seen"] == gone["since"], "the client's Last seen comes with the event, not a re-read"
        view = {m["user_id"]: m for m in get(server, manager, "/api/v1/team").json()["members"]}
        assert view[member.user_id]["state"] == "offline"
    finally:
        watcher.close()


def test_a_second_device_leaving_shows_the_one_still_connected_after_grace(server: ServerProcess,
                                                                          team: Team) -> None:
    """The user stays connected (desktop, idle) while the laptop (active) leaves: only the grace period running
    out changes what the team sees, so the sweep must still look at a user who holds a socket."""
    manager, member = team.people[0], team.people[1]
    body = enroll(server, issue_code(server, member.login), device_name="laptop")
    laptop = Person(member.user_id, member.login, member.name, member.role, body["token"], body["device_id"])
    watcher = LiveClient(server, manager.token).connect()
    desktop_socket = LiveClient(server, member.token).connect()
    laptop_socket = LiveClient(server, laptop.token).connect()
    try:
        since = datetime.now(UTC) - timedelta(minutes=5)
        put_presence(server, member, "idle", seq=1, since=since)
        put_presence(server, laptop, "active", seq=1, since=since + timedelta(minutes=1))
        def told() -> list[Any]:
            return watcher.received("presence", lambda d: d["user_id"] == member.user_id)

        # The desktop reported first (idle: a report beats the laptop's silence), then the laptop (active).
        assert watcher.wait_until(lambda: [d["state"] for d in told()][-2:] == ["idle", "active"], timeout=5)
        laptop_socket.close()
        left = datetime.now(UTC)
        assert watcher.wait_until(lambda: told()[-1]["state"] == "idle", timeout=5)
        idle = told()[-1]
        assert datetime.now(UTC) - left >= timedelta(seconds=0.8), "not before the laptop's grace period ended"
        assert datetime.fromisoformat(idle["since"]) == since, "the desktop's own report, not a guess"
        assert desktop_socket.sio.connected
    finally:
        for client in (watcher, desktop_socket, laptop_socket):
            client.close()


def test_socket_without_or_with_garbage_token_is_refused(server: ServerProcess) -> None:
    for token in ("", "garbage", None):
        client = LiveClient(server, token, reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect()
        [refusal] = client.received("connect_error")
        assert "token" in refusal["message"]


def test_presence_since_must_be_iso_text_not_a_number(server: ServerProcess, team: Team) -> None:
    import requests

    answer = requests.put(server.url + "/api/v1/presence", headers=team.people[1].headers, timeout=10,
                          json={"state": "away", "since": 458002, "seq": 1})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "since"


def admin_cli(server: ServerProcess, *args: str) -> None:
    """``staffpulse-server`` in its own process, as an admin runs it beside the server."""
    done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--database-url", server.database_url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_roster_changes_reach_the_team_live_from_the_admin_cli_and_enrollment(
        server: ServerProcess, two_teams: tuple[Team, Team], clients: dict[int, LiveClient]) -> None:
    """Issue 15, item 4: a member created (by an admin in another process, or by a deployment key) or renamed is
    announced to the team's room within a sweep, once; another team hears nothing."""
    (manager, alice, _bob), (_other_manager, carol) = two_teams[0].people, two_teams[1].people
    team = two_teams[0].name
    admin_cli(server, "users", "create", "--team", team, "--login", f"dana@{team}.example", "--name", "Dana")
    joined = clients[alice.user_id].wait_for("roster", lambda d: d["name"] == "Dana", timeout=10)
    assert joined["change"] == "joined" and joined["role"] == "member"
    admin_cli(server, "users", "rename", f"dana@{team}.example", "--name", "Dana K.", "--role", "manager")
    renamed = clients[manager.user_id].wait_for("roster", lambda d: d["change"] == "renamed", timeout=10)
    assert renamed == {"user_id": joined["user_id"], "name": "Dana K.", "role": "manager", "change": "renamed"}
    assert enroll_by_key(server, new_key(server, team, allow_create=True), f"erin@{team}.example").status_code == 201
    by_key = clients[alice.user_id].wait_for("roster", lambda d: d["name"] == "erin", timeout=10)
    assert by_key["change"] == "joined"
    view = {m["user_id"]: m["name"] for m in get(server, alice, "/api/v1/team").json()["members"]}
    assert view[joined["user_id"]] == "Dana K." and view[by_key["user_id"]] == "erin"

    settle(0.5)  # a few sweeps: each change is told once, however many passes ran
    new_members = {joined["user_id"], by_key["user_id"]}
    assert len(clients[alice.user_id].received("roster", lambda d: d["user_id"] in new_members)) == 3
    assert clients[carol.user_id].received("roster", lambda d: d["user_id"] in new_members) == []


def test_two_devices_of_one_user_combine_without_a_flip(server: ServerProcess, team: Team) -> None:
    """Issue 15, item 7 (docs/protocol.md, Presence): the laptop switched on while the desktop says break does not
    show the person active before it reports; once it reports, the most present report wins; once it left, the
    desktop's break shows again, with the moment that break began."""
    manager, member = team.people[0], team.people[1]
    body = enroll(server, issue_code(server, member.login), device_name="laptop")
    laptop = Person(member.user_id, member.login, member.name, member.role, body["token"], body["device_id"])
    began = (datetime.now(UTC) - timedelta(minutes=4)).replace(microsecond=0)
    assert put_presence(server, member, "break", seq=1, since=began).json()["applied"]  # before anyone listens
    watcher = LiveClient(server, manager.token).connect()
    desktop_socket = LiveClient(server, member.token).connect()
    laptop_socket: LiveClient | None = None

    def told() -> list[tuple[str, str]]:
        return [(d["state"], d["since"]) for d in watcher.received("presence", about(member.user_id))]

    def shown() -> str:
        view = {m["user_id"]: m for m in get(server, manager, "/api/v1/team").json()["members"]}
        return str(view[member.user_id]["state"])

    try:
        assert shown() == "break"
        laptop_socket = LiveClient(server, laptop.token).connect()
        settle(1.0)  # five sweeps
        assert shown() == "break", "a device that has not reported says nothing of the person"
        assert put_presence(server, laptop, "idle", seq=1).json()["applied"]
        settle(0.5)
        assert shown() == "break" and told() == [], "break is more present than idle: nothing to tell"
        assert put_presence(server, laptop, "active", seq=2).json()["applied"]
        assert watcher.wait_until(lambda: [state for state, _ in told()] == ["active"], timeout=5)
        laptop_socket.close()
        assert watcher.wait_until(lambda: len(told()) == 2, timeout=5)
        assert told()[1] == ("break", began.isoformat().replace("+00:00", "Z")), "the same break, not a new one"
    finally:
        for client in (watcher, desktop_socket, laptop_socket):
            if client is not None:
                client.close()


def test_a_changed_role_rejoins_the_rooms_of_the_new_role(server: ServerProcess, team: Team) -> None:
    """Issue 15 review, item 1: rooms are chosen at connect, so a manager demoted by the admin CLI kept hearing
    every member's totals until reconnecting. The server now disconnects the sockets of a user whose role changed;
    reconnected, the demoted manager hears no ``team-performance-update`` and the promoted member does."""
    demoted, promoted, worker = team.people
    old = {p.user_id: LiveClient(server, p.token, reconnection=False).connect() for p in (demoted, promoted)}
    admin_cli(server, "users", "rename", demoted.login, "--role", "member")
    admin_cli(server, "users", "rename", promoted.login, "--role", "manager")
    for client in old.values():
        assert client.wait_until(lambda c=client: not c.sio.connected, timeout=10), "the socket kept its old rooms"
    again = {p.user_id: LiveClient(server, p.token).connect() for p in (demoted, promoted)}
    try:
        minute = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
        assert post_batch(server, worker, [slot(minute)]).status_code == 200
        again[promoted.user_id].wait_for("team-performance-update", about(worker.user_id), timeout=10)
        settle(0.5)
        for client in (*old.values(), again[demoted.user_id]):
            assert client.received("team-performance-update") == []
    finally:
        for client in again.values():
            client.close()
