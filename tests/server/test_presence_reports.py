"""Presence PUTs stored together by the hub's pass (``server.presence.store_reports``) answer as if stored one by
one: an update is applied when its ``seq`` is above the device's latest or its ``since`` later (``newer``), and a
write another process made newer in the meantime wins. The rule alone, then on SQLite and PostgreSQL, then
through a real server. Last, the hub's writer in process on a real SQLite file: a PUT is answered once its pass
is committed, whatever becomes of the announcements, and a pass that failed is retried without a new note."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from protocol.schema import PresenceEvent
from server import admin, presence
from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.live import LiveHub
from server.migrate import run_in_session
from server.models import Device, DevicePresence
from server.presence import Reported, settle, store_reports
from server.registry import LocalRegistry
from support.servers import ServerProcess
from support.team import Team, put_presence

T0 = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)  # after make_team's enrollment


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_settle_applies_in_arrival_order_above_the_latest_seq() -> None:
    # As the agent sends them: ``since`` grows with ``seq``, so a late report is older by both.
    stored = {1: Reported(1, "active", at(5), 5)}
    reports = [Reported(1, "idle", at(4), 4), Reported(1, "break", at(7), 7), Reported(2, "active", at(3), 1),
               Reported(1, "idle", at(6), 6), Reported(2, "idle", at(5), 2), Reported(1, "active", at(8), 8)]
    answers, changed = settle(stored, reports)
    assert answers == [(False, stored[1]), (True, reports[1]), (True, reports[2]), (False, reports[1]),
                       (True, reports[4]), (True, reports[5])]
    assert changed == {1: reports[5], 2: reports[4]}
    assert settle(stored, [Reported(1, "idle", at(5), 5)]) == ([(False, stored[1])], {}), "a repeated report"


def test_a_later_since_wins_over_a_higher_seq_so_no_seq_locks_a_device_out() -> None:
    """A device that claimed ``seq`` 2^63−1, or an agent that lost its checkpoint and counts from 1 again, is
    held back only until its next state begins after the stored one."""
    stored = {1: Reported(1, "active", at(5), 2**63 - 1)}
    restarted = Reported(1, "idle", at(6), 1)
    assert settle(stored, [restarted]) == ([(True, restarted)], {1: restarted})
    same_moment = Reported(1, "idle", at(5), 3)
    assert settle(stored, [same_moment]) == ([(False, stored[1])], {}), "not later, and a lower seq"


async def devices(session: Any, now: datetime, count: int) -> list[int]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    await admin.create_team(session, name=team, now=now)
    user_id = (await admin.create_user(session, team=team, login=f"u@{team}.example", name="U", now=now))["id"]
    made = [Device(user_id=user_id, name=f"d{n}", platform="linux", agent_version="t", token_hash=uuid.uuid4().hex,
                   created_at=now) for n in range(count)]
    session.add_all(made)
    await session.flush()
    return [device.id for device in made]


async def rows(session: Any, ids: list[int]) -> dict[int, tuple[str, int]]:
    found = await session.execute(DevicePresence.__table__.select().where(DevicePresence.device_id.in_(ids)))
    return {row.device_id: (row.state, row.seq) for row in found}


def test_a_pass_stores_its_reports_as_one_by_one(database_url: str) -> None:
    async def scenario(session: Any, now: datetime) -> None:
        a, b = await devices(session, now, 2)
        first = await store_reports(session, [Reported(a, "active", at(0), 3)])
        assert first == [(True, Reported(a, "active", at(0), 3))]
        reports = [Reported(a, "idle", at(-1), 2), Reported(b, "break", at(2), 1), Reported(a, "break", at(3), 9)]
        answers = await store_reports(session, reports)
        assert [applied for applied, _ in answers] == [False, True, True]
        assert answers[0][1].seq == 3 and answers[0][1].since == at(0), "answered with what the device held"
        assert await rows(session, [a, b]) == {a: ("break", 9), b: ("break", 1)}

    asyncio.run(run_in_session(database_url, scenario))


def test_a_newer_write_by_another_process_between_read_and_write_wins(database_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(session: Any, now: datetime) -> None:
        (device,) = await devices(session, now, 1)
        await store_reports(session, [Reported(device, "active", at(2), 10)])  # the other process's write
        real = presence._reported
        reads = 0

        async def read_before_it(session: Any, ids: Any) -> dict[int, Reported]:
            nonlocal reads
            reads += 1
            return {} if reads == 1 else await real(session, ids)  # our first read saw no row yet

        monkeypatch.setattr(presence, "_reported", read_before_it)
        answers = await store_reports(session, [Reported(device, "idle", at(1), 4)])
        assert answers == [(False, Reported(device, "active", at(2), 10))]
        assert await rows(session, [device]) == {device: ("active", 10)}

    asyncio.run(run_in_session(database_url, scenario))


def test_concurrent_puts_of_one_device_end_at_the_newest(server: ServerProcess, team: Team) -> None:
    member = team.by_role("member")[0]
    states = ["active", "idle", "break"]
    seqs = list(range(1, 31))
    random.Random(5).shuffle(seqs)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = dict(zip(seqs, pool.map(
            lambda seq: put_presence(server, member, states[seq % 3], seq=seq, since=at(seq)).json(), seqs),
            strict=True))
    assert answers[30]["applied"] and answers[30]["state"] == states[0], "the newest always applies"
    for seq, answer in answers.items():
        held = int((datetime.fromisoformat(answer["since"]) - T0).total_seconds() // 60)  # its seq, by since
        assert held >= seq and answer["state"] == states[held % 3], (seq, answer)
        assert answer["applied"] == (held == seq), (seq, answer)
    final = put_presence(server, member, "idle", seq=30, since=at(30)).json()
    assert (final["applied"], final["state"], datetime.fromisoformat(final["since"])) == (False, states[0], at(30)), \
        "a repeated report is not applied"


async def a_device(url: str) -> tuple[int, int]:
    """A new user's one device in the database at ``url``: (user id, device id)."""
    async def make(session: Any, now: datetime) -> tuple[int, int]:
        (device_id,) = await devices(session, now, 1)
        device = await session.get(Device, device_id)
        return device.user_id, device_id

    return await run_in_session(url, make)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def running_hub(url: str, *, busy_timeout_s: float = 30.0) -> AsyncIterator[LiveHub]:
    """The live hub of one process, its writer running, on the database at ``url``. Sweeps are an hour apart,
    so every pass a test sees was woken by something noted (or put back)."""
    engine = make_engine(url, busy_timeout_s=busy_timeout_s)
    hub = LiveHub(Settings(database_url=url, sweep_interval_s=3600), make_sessionmaker(engine),
                  lambda: datetime.now(UTC), LocalRegistry())
    hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
        await engine.dispose()


def test_a_put_is_answered_once_committed_though_announcing_it_fails(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"

    async def scenario() -> None:
        user_id, device_id = await a_device(url)
        now = datetime.now(UTC).replace(microsecond=0)
        async with asyncio.timeout(60), running_hub(url) as hub:  # a bound, not a wait
            raised = asyncio.Event()

            async def cannot_publish(_events: Iterable[tuple[int, PresenceEvent]]) -> None:
                raised.set()
                raise ConnectionError("cannot publish")  # what a socket.io manager without its broker may raise

            monkeypatch.setattr(hub.gateway, "emit_presence", cannot_publish)
            hub.seen(device_id, now)
            put = hub.report(user_id, Reported(device_id, "active", now, 1))
            await raised.wait()  # the pass committed, refreshed the user (offline -> active) and announced it
            assert put.done(), "the PUT was answered before the announcement, not held back by it"
            ack = put.result()
            assert (ack.applied, ack.state, ack.since) == (True, "active", now)
            again = hub.report(user_id, Reported(device_id, "idle", now, 2))
            assert (await again).applied, "the writer goes on after a failed announcement"
        assert "announcing presence failed: ConnectionError: cannot publish" in caplog.text

    caplog.set_level(logging.WARNING, logger="server.presence_writer")
    asyncio.run(scenario())


def test_a_failed_pass_is_retried_without_a_new_note(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    url = f"sqlite:///{path}"

    def last_seen(device_id: int) -> object:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return db.execute("SELECT last_seen FROM devices WHERE id = ?", (device_id,)).fetchone()[0]

    async def scenario() -> None:
        user_id, device_id = await a_device(url)
        async with asyncio.timeout(60), running_hub(url, busy_timeout_s=0.05) as hub:  # a bound, not a wait
            with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as blocker:
                blocker.execute("BEGIN IMMEDIATE")  # another connection holds the write lock: the pass fails
                hub.seen(device_id, at(0))
                put = hub.report(user_id, Reported(device_id, "active", at(0), 1))
                with pytest.raises(OperationalError, match="database is locked"):
                    await put  # its pass failed: the PUT answers the error, the last-seen moment is put back
                assert last_seen(device_id) is None
                blocker.rollback()
            while last_seen(device_id) is None:  # written by a pass nothing new woke: the put-back did
                await asyncio.sleep(0.02)

    asyncio.run(scenario())


def test_stop_ends_the_writer_though_a_note_lands_as_it_is_cancelled(tmp_path: Path) -> None:
    """At shutdown, sockets closing note their last-seen moments (waking the writer) in the same loop step as the
    app's lifespan stops the hub. On Python 3.11 ``asyncio.wait_for`` returned the wake-up and dropped the
    cancellation (CPython gh-86296): the writer kept sweeping, ``stop`` never returned and the server never
    exited. The stop must return at once, and its last pass still write the moment noted."""
    path = tmp_path / "server.db"
    url = f"sqlite:///{path}"

    async def scenario() -> None:
        _user_id, device_id = await a_device(url)
        engine = make_engine(url)
        hub = LiveHub(Settings(database_url=url, sweep_interval_s=3600), make_sessionmaker(engine),
                      lambda: datetime.now(UTC), LocalRegistry())
        try:
            hub.start()
            await asyncio.sleep(0)  # one loop step, no time: the writer runs up to its wait for a note
            hub.seen(device_id, at(0))
            async with asyncio.timeout(10) as bound:  # a bound, not a wait: the stop takes milliseconds
                await hub.stop()
            assert not bound.expired(), "the writer went on after its cancellation: stop did not return"
        finally:
            await engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as db:
            (stored,) = db.execute("SELECT last_seen FROM devices WHERE id = ?", (device_id,)).fetchone()
        assert stored is not None and datetime.fromisoformat(stored).replace(tzinfo=UTC) == at(0), stored

    asyncio.run(scenario())
