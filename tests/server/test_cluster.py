"""Two server processes behind one Redis act as one server: events, one socket per device, presence leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import redis

from server import admin
from server.migrate import run_in_session
from server.registry import KEY_PREFIX
from support.servers import ServerProcess
from support.team import (
    LiveClient,
    create_user,
    enroll,
    get,
    issue_code,
    make_team,
    post_batch,
    put_presence,
    recent_minutes,
    settle,
    slot,
)

Cluster = tuple[ServerProcess, ServerProcess]

#: From TEST_SERVER_ARGS: --offline-grace 1, --sweep-interval 0.2; a lease lasts three sweeps.
GRACE_S, SWEEP_S = 1.0, 0.2
LEASE_S = 3 * SWEEP_S


def presence_of(user_id: int, state: str) -> Callable[[Any], bool]:
    return lambda data: data["user_id"] == user_id and data["state"] == state


def shown_state(server: ServerProcess, viewer: Any, user_id: int) -> str:
    members = {m["user_id"]: m for m in get(server, viewer, "/api/v1/team").json()["members"]}
    return str(members[user_id]["state"])


def wait_disconnected(client: LiveClient, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while client.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return not client.sio.connected


def test_events_reach_sockets_on_every_process(cluster: Cluster) -> None:
    a, b = cluster
    manager, member = make_team(a, roles=["manager", "member"]).people
    on_a = LiveClient(a, manager.token).connect()
    on_b = LiveClient(b, member.token).connect()
    try:
        assert put_presence(b, member, "break", seq=1).status_code == 200
        on_a.wait_for("presence", presence_of(member.user_id, "break"))
        assert post_batch(a, member, [slot(recent_minutes(1)[0], active=30, idle=30)]).status_code == 200
        own = on_b.wait_for("performance-update", lambda d: d["user_id"] == member.user_id)
        assert on_a.wait_for("team-performance-update", lambda d: d["user_id"] == member.user_id) == own
    finally:
        on_a.close()
        on_b.close()


def test_a_device_reconnecting_elsewhere_replaces_its_old_socket(cluster: Cluster) -> None:
    a, b = cluster
    manager, member = make_team(a, roles=["manager", "member"]).people
    watcher = LiveClient(a, manager.token).connect()
    old = LiveClient(b, member.token, reconnection=False).connect()
    new = LiveClient(a, member.token, reconnection=False)
    try:
        watcher.wait_for("presence", presence_of(member.user_id, "active"))
        new.connect()
        assert wait_disconnected(old, timeout=3), "the socket on the other process was not replaced"
        assert new.sio.connected
        # The old socket's goodbye must not take the new socket's lease with it: the user stays online.
        settle(GRACE_S + 3 * SWEEP_S)
        assert new.sio.connected
        assert watcher.received("presence", presence_of(member.user_id, "offline")) == []
        assert shown_state(b, manager, member.user_id) == "active"
    finally:
        for client in (watcher, old, new):
            client.close()


def test_users_of_a_crashed_process_go_offline(cluster: Cluster, redis_url: str) -> None:
    a, b = cluster
    manager, member = make_team(a, roles=["manager", "member"]).people
    watcher = LiveClient(a, manager.token).connect()
    victim = LiveClient(b, member.token, reconnection=False).connect()
    leases = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        watcher.wait_for("presence", presence_of(member.user_id, "active"))  # emitted by B, heard on A
        assert leases.get(f"{KEY_PREFIX}{member.device_id}") is not None
        b.stop(kill=True)  # kill -9: no disconnect handler runs, the lease is left to expire
        crashed = time.monotonic()
        watcher.wait_for("presence", presence_of(member.user_id, "offline"), timeout=GRACE_S + LEASE_S + 3)
        assert time.monotonic() - crashed >= GRACE_S - SWEEP_S, "offline before the grace period ended"
        assert leases.get(f"{KEY_PREFIX}{member.device_id}") is None
        assert shown_state(a, manager, member.user_id) == "offline"
    finally:
        leases.close()
        watcher.close()
        victim.close()
        b.start()


def test_both_sweepers_announce_each_change_once(cluster: Cluster) -> None:
    a, b = cluster
    manager, *leavers = make_team(a, roles=["manager"] + ["member"] * 6).people
    watcher = LiveClient(b, manager.token).connect()
    sockets = [LiveClient(server, person.token, reconnection=False).connect()
               for server, person in zip([a, b] * 3, leavers, strict=True)]
    try:
        for person in leavers:
            watcher.wait_for("presence", presence_of(person.user_id, "active"))
        for client in sockets:
            client.close()
        for person in leavers:
            watcher.wait_for("presence", presence_of(person.user_id, "offline"), timeout=GRACE_S + LEASE_S + 3)
        settle(3 * SWEEP_S)
        for person in leavers:
            heard = [d["state"] for d in watcher.received("presence", lambda d, p=person: d["user_id"] == p.user_id)]
            assert heard == ["active", "offline"], f"each change must be announced once: {heard}"
    finally:
        watcher.close()


def test_a_new_device_is_announced_once_whichever_process_sees_it_first(cluster: Cluster) -> None:
    """Both processes look for unannounced devices every sweep; the claim in the database lets one announce."""
    a, b = cluster
    (member,) = make_team(a, roles=["member"]).people
    on_a = LiveClient(a, member.token).connect()
    laptop = enroll(b, issue_code(b, member.login), device_name="laptop")
    on_laptop = LiveClient(b, laptop["token"]).connect()  # the same user's second device, on the other process
    try:
        phone = enroll(a, issue_code(a, member.login), device_name="phone")
        for client in (on_a, on_laptop):
            client.wait_for("device-enrolled", lambda d: d["device_id"] == phone["device_id"], timeout=5)
        settle(5 * SWEEP_S)  # both processes swept several times since
        for client in (on_a, on_laptop):
            assert len(client.received("device-enrolled", lambda d: d["device_id"] == phone["device_id"])) == 1
    finally:
        on_a.close()
        on_laptop.close()


def test_a_roster_change_is_announced_once_to_the_team_on_every_process(cluster: Cluster) -> None:
    """Issue 15, item 4: a member created (here through the admin functions, as the CLI does) is claimed by one
    process's announce pass and reaches the team's sockets on both processes once."""
    a, b = cluster
    team = make_team(a, roles=["manager", "member"])
    manager, member = team.people
    on_a = LiveClient(a, manager.token).connect()
    on_b = LiveClient(b, member.token).connect()
    try:
        create_user(a, team.name, f"newcomer@{team.name}.example", "Newcomer")
        for client in (on_a, on_b):
            client.wait_for("roster", lambda d: d["name"] == "Newcomer" and d["change"] == "joined", timeout=5)
        settle(5 * SWEEP_S)  # both processes swept several times since
        for client in (on_a, on_b):  # (the team's first members may be announced too, had the pass not run yet)
            assert len(client.received("roster", lambda d: d["name"] == "Newcomer")) == 1
    finally:
        on_a.close()
        on_b.close()


def test_demoted_managers_lose_their_rooms_on_every_process(cluster: Cluster) -> None:
    """Issue 15 review, item 1, in a cluster: the announce pass that claims a roster change runs on one process,
    yet each process drops its own sockets of a user whose role changed, so a demoted manager's socket elsewhere
    stops hearing the team's totals too."""
    a, b = cluster
    first, second = make_team(a, roles=["manager", "manager"]).people
    sockets = [LiveClient(a, first.token, reconnection=False).connect(),
               LiveClient(b, second.token, reconnection=False).connect()]
    try:
        for person in (first, second):
            asyncio.run(run_in_session(a.database_url, lambda s, now, p=person: admin.rename_user(
                s, login=p.login, role="member", now=now)))
        for client in sockets:
            assert wait_disconnected(client, timeout=10), "a socket kept the managers' room"
    finally:
        for client in sockets:
            client.close()
