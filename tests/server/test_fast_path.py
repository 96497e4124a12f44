"""``server.api.fast_path`` answers uploads and presence reports exactly as the FastAPI routes do, and valid
ones without them.

The same requests go, in the same order, to two fresh servers on their own SQLite files: one behind
``FastPath`` as ``create_app`` serves it, one FastAPI alone. Every answer (status, headers, body) must be
the same: accepted and duplicate minutes, a reused batch id, missing and unknown tokens, malformed and invalid
bodies, slots outside the window or the device's enrollment, counts over the bounds, a body sent in pieces,
presence reports applied, stale and from the future, the write
budget the two routes share, and (on a file of their own) a locked database. A counting
middleware on each FastAPI app shows which requests reached it: behind the fast path, only the ones it hands on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from protocol.schema import ActivityBatch, PresenceUpdate
from server import admin, security
from server.api.fast_path import FastPath
from server.api.routes import activity, presence
from server.app import create_api
from server.config import Settings
from server.migrate import run_in_session
from server.models import ActivitySlot, Device
from support.asgi import call
from support.team import recent_minutes, slot

TOKEN = security.new_token()


class Counted:
    """Pure ASGI middleware noting the path of every request that reaches the app behind it."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


async def _seed(session: Any, now: datetime) -> None:
    await admin.create_team(session, name="fast", now=now)
    user = await admin.create_user(session, team="fast", login="sam@fast.example", name="Sam", now=now)
    session.add(Device(user_id=user["id"], name="laptop", platform="linux", agent_version="t",
                       token_hash=security.digest(TOKEN), created_at=now - timedelta(days=1)))


@contextlib.asynccontextmanager
async def running(path: Path) -> AsyncIterator[tuple[FastAPI, list[str]]]:
    """A started API on a fresh SQLite file with one device (``TOKEN``); writes: a burst of 20, 0.01/s after."""
    settings = Settings(database_url=f"sqlite:///{path}", write_burst=20, write_rate_per_s=0.01,
                        db_busy_timeout_s=0.2, retention_days=30)
    await run_in_session(settings.database_url, _seed)
    api = create_api(settings)
    seen: list[str] = []
    api.add_middleware(Counted, seen=seen)
    async with api.router.lifespan_context(api):
        yield api, seen


ACTIVITY, PRESENCE = ("POST", "/api/v1/activity"), ("PUT", "/api/v1/presence")


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _batch(batch_id: uuid.UUID, starts: list[datetime], **changes: Any) -> bytes:
    return json.dumps({"batch_id": str(batch_id), "slots": [slot(s, **changes) for s in starts]}).encode()


#: After the device's enrollment (a day ago) and before now, as both servers' clocks see it.
SINCE = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)


def _report(state: str, seq: int, since: datetime = SINCE) -> bytes:
    return json.dumps({"state": state, "since": since.isoformat(), "seq": seq}).encode()


Request = tuple[str, tuple[str, str], bool, dict[str, str], list[bytes]]


def requests() -> list[Request]:
    """(what, route, answered by the fast path, headers, body chunks), in the order they are sent."""
    first, again, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    minutes = recent_minutes(6)
    pieces = _batch(other, minutes[4:6])
    sent: list[Request] = [
        ("new minutes", ACTIVITY, True, _bearer(), [_batch(first, minutes[:3])]),
        ("a retry", ACTIVITY, True, _bearer(), [_batch(first, minutes[:3])]),
        ("a minute stored before, in a new batch", ACTIVITY, True, _bearer(), [_batch(again, minutes[2:4])]),
        ("a batch id reused for other slots", ACTIVITY, True, _bearer(), [_batch(first, minutes[4:5])]),
        ("no token", ACTIVITY, True, {"Content-Type": "application/json"}, [_batch(other, minutes[4:5])]),
        ("an unknown token", ACTIVITY, True, _bearer(security.new_token()), [_batch(other, minutes[4:5])]),
        ("a slot older than the retention", ACTIVITY, True, _bearer(),
         [_batch(other, [minutes[0] - timedelta(days=40)])]),
        ("a body in three pieces", ACTIVITY, True, _bearer(), [b"", pieces[:20], pieces[20:]]),
        ("not JSON", ACTIVITY, False, _bearer(), [b'{"batch_id": ']),
        ("a refused value", ACTIVITY, False, _bearer(), [_batch(uuid.uuid4(), minutes[:1], active=70)]),
        ("an unknown field", ACTIVITY, False, _bearer(),
         [json.dumps({"batch_id": str(uuid.uuid4()), "slots": [], "extra": 1}).encode()]),
        ("declared as text", ACTIVITY, False, {**_bearer(), "Content-Type": "text/plain"},
         [_batch(uuid.uuid4(), minutes[:1])]),
        ("JSON with a charset, in capitals", ACTIVITY, True,
         {**_bearer(), "Content-Type": "Application/JSON; charset=utf-8"}, [_batch(uuid.uuid4(), minutes[3:4])]),
        ("a +json media type", PRESENCE, True, {**_bearer(), "Content-Type": "application/vnd.staffpulse+json"},
         [_report("active", 1)]),
        ("an invalid body without a token", ACTIVITY, False, {"Content-Type": "application/json"}, [b"[]"]),
        ("a break", PRESENCE, True, _bearer(), [_report("break", 2)]),
        ("a report older than the last", PRESENCE, True, _bearer(), [_report("active", 1)]),
        ("back from the break", PRESENCE, True, _bearer(), [_report("active", 3)]),
        ("a state there is not", PRESENCE, False, _bearer(), [_report("asleep", 4)]),
        ("a report without a token", PRESENCE, True, {"Content-Type": "application/json"}, [_report("idle", 5)]),
        ("a minute from before the device was enrolled", ACTIVITY, True, _bearer(),
         [_batch(uuid.uuid4(), [minutes[0] - timedelta(days=2)])]),
        ("a minute that has not begun", ACTIVITY, True, _bearer(),
         [_batch(uuid.uuid4(), [minutes[-1] + timedelta(minutes=20)])]),
        ("a count no person makes", ACTIVITY, False, _bearer(), [_batch(uuid.uuid4(), minutes[:1], keys=10**7)]),
    ]
    # The burst is 20 writes, shared by both routes, and some of the requests above spent one: these run it
    # out (checked below).
    sent += [(f"write {n} after them", route, True, _bearer(), [body])
             for n, (route, body) in enumerate([(ACTIVITY, _batch(uuid.uuid4(), minutes[5:6])),
                                                (PRESENCE, _report("idle", 6))] * 4)]
    return sent


def test_answers_match_fastapi_and_valid_uploads_skip_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path / "fast.db") as (fast_api, fast_seen), \
                running(tmp_path / "plain.db") as (plain_api, plain_seen):
            fast = FastPath(fast_api)
            handed_on, statuses = 0, []
            for what, route, answered_fast, headers, chunks in requests():
                before = len(fast_seen)
                mine, theirs = await call(fast, route, headers, chunks), await call(plain_api, route, headers, chunks)
                assert mine == theirs, what
                assert len(fast_seen) - before == (0 if answered_fast else 1), what
                handed_on += not answered_fast
                statuses.append(mine[0])
            assert len(plain_seen) == len(requests())
            assert len(fast_seen) == handed_on
            tail = statuses[-8:]
            assert tail[0] == 200 and tail[-2:] == [429, 429], f"the writes ran out the burst, on both routes: {tail}"
            assert statuses[15:18] == [200, 200, 200], "the presence reports were answered"

    asyncio.run(scenario())


def test_a_locked_database_is_answered_503_as_fastapi_does(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path / "fast.db") as (fast_api, _), running(tmp_path / "plain.db") as (plain_api, _):
            answers = []
            for app, path in ((FastPath(fast_api), "fast.db"), (plain_api, "plain.db")):
                locker = sqlite3.connect(tmp_path / path)
                locker.execute("BEGIN EXCLUSIVE")
                try:
                    answers.append(await call(app, ACTIVITY, _bearer(), [_batch(uuid.uuid4(), recent_minutes(1))]))
                finally:
                    locker.rollback()
                    locker.close()
            assert answers[0] == answers[1]
            assert answers[0][0] == 503 and answers[0][1]["retry-after"] == "2", answers[0]

    asyncio.run(scenario())


def test_the_fast_path_calls_what_the_routes_declare() -> None:
    """The fast path reads each route's dependencies from the route itself (tests/server/
    test_third_party_internals.py checks it solves them as FastAPI does): it answers exactly these two routes,
    with the bodies and dependencies they declare, and the app has no middleware or override it would skip."""

    def called(needs: Any) -> set[str]:
        return {name for _, call, below in needs.dependencies for name in (call.__name__, *called(below))}

    api = create_api(Settings(database_url="sqlite:///unused.db"))
    answered = FastPath(api).routes
    assert set(answered) == {ACTIVITY, PRESENCE}
    for key, endpoint, model in ((ACTIVITY, activity.post_activity, ActivityBatch),
                                 (PRESENCE, presence.put_presence, PresenceUpdate)):
        assert (answered[key].route.endpoint, answered[key].model) == (endpoint, model)
        assert called(answered[key].needs) == {"get_now", "get_settings", "get_hub", "get_principal", "writer"}
    assert api.user_middleware == [] and api.dependency_overrides == {}


def test_a_client_gone_before_its_body_ends_gets_nothing_and_stores_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path / "fast.db") as (api, seen):
            body = _batch(uuid.uuid4(), recent_minutes(1))
            incoming: list[Message] = [{"type": "http.request", "body": body[:30], "more_body": True},
                                       {"type": "http.disconnect"}]
            sent: list[Message] = []

            async def receive() -> Message:
                return incoming.pop(0)

            async def send(message: Message) -> None:
                sent.append(message)

            scope = {"type": "http", "method": "POST", "path": "/api/v1/activity", "query_string": b"",
                     "headers": [(b"authorization", f"Bearer {TOKEN}".encode()),
                                 (b"content-type", b"application/json")]}
            await FastPath(api)(scope, receive, send)
            assert sent == [] and seen == []  # no answer, and FastAPI never saw it
            stored = await run_in_session(api.state.settings.database_url, _count_slots)
            assert stored == 0

    asyncio.run(scenario())


async def _count_slots(session: Any, _now: datetime) -> int:
    return int(await session.scalar(select(func.count()).select_from(ActivitySlot)))
