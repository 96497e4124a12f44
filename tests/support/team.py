"""Enrolled people on a running server: teams are seeded in the database, devices enroll over real REST."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import socketio
from sqlalchemy import update

from server import admin
from server.migrate import run_in_session
from server.models import Device
from support.servers import ServerProcess
from support.waiting import wait_on


@dataclasses.dataclass
class Person:
    user_id: int
    login: str
    name: str
    role: str
    token: str
    device_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclasses.dataclass
class Team:
    name: str
    people: list[Person]

    def by_role(self, role: str) -> list[Person]:
        return [p for p in self.people if p.role == role]


def enroll(server: ServerProcess, code: str, device_name: str = "test-pc") -> dict[str, Any]:
    answer = requests.post(server.url + "/api/v1/enroll", json={
        "code": code, "device_name": device_name, "platform": "linux", "agent_version": "test"}, timeout=10)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def admin_cli(server: ServerProcess, *args: str) -> dict[str, Any]:
    """``staffpulse-server ARGS --json`` against ``server``'s database, as IT runs it (a separate process); its
    JSON answer."""
    done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--database-url", server.database_url,
                           "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def create_user(server: ServerProcess, team: str, login: str, name: str) -> int:
    """A member added to ``team`` as ``staffpulse-server users create`` adds one; their user id."""
    async def work(session: Any, now: datetime) -> dict[str, Any]:
        return await admin.create_user(session, team=team, login=login, name=name, now=now)

    user_id: int = asyncio.run(run_in_session(server.database_url, work))["id"]
    return user_id


def issue_code(server: ServerProcess, login: str, *, now: datetime | None = None, valid_hours: int = 1) -> str:
    async def work(session: Any, db_now: datetime) -> dict[str, Any]:
        return await admin.issue_code(session, login=login, now=now or db_now, valid_hours=valid_hours)

    code: str = asyncio.run(run_in_session(server.database_url, work))["code"]
    return code

def new_key(server: ServerProcess, team: str, *, allow_create: bool = False) -> str:
    """A fresh deployment key of ``team``."""
    async def work(session: Any, now: datetime) -> dict[str, Any]:
        return await admin.create_key(session, team=team, name="test-key", now=now, allow_create=allow_create)

    key: str = asyncio.run(run_in_session(server.database_url, work))["key"]
    return key


def enroll_by_key(server: ServerProcess, key: str, login: str, device_name: str = "test-pc") -> requests.Response:
    """``POST /enroll`` with a deployment key, as a silent install does; the raw answer (refusals included)."""
    return requests.post(server.url + "/api/v1/enroll", timeout=10, json={
        "deployment_key": key, "login": login, "device_name": device_name, "platform": "linux",
        "agent_version": "test"})


def approve(server: ServerProcess, device_id: int) -> None:
    async def work(session: Any, now: datetime) -> dict[str, Any]:
        return await admin.approve_device(session, device_id=device_id, now=now)

    asyncio.run(run_in_session(server.database_url, work))


def backdate_enrollment(server: ServerProcess, device_ids: Iterable[int], days: int = 3650, *,
                        announced: bool = False) -> None:
    """Make devices enrolled ``days`` ago (by default as far back as ``TEST_SERVER_ARGS`` retain minutes), in the
    database: the server refuses minutes from before a device was enrolled, and tests upload past days. With
    ``announced`` their ``device-enrolled`` is taken as sent back then: otherwise the server's next announcing
    pass tells their users' agents connected by then of a "new" device."""
    ids = list(device_ids)

    async def work(session: Any, now: datetime) -> None:
        enrolled = now - timedelta(days=days)
        await session.execute(update(Device).where(Device.id.in_(ids)).values(
            created_at=enrolled, **({"announced_at": enrolled} if announced else {})))

    asyncio.run(run_in_session(server.database_url, work))


def make_team(server: ServerProcess, roles: Iterable[str] = ("manager", "member", "member"),
              time_zone: str = "Europe/Berlin") -> Team:
    """A fresh team (unique name, so tests sharing a server never see each other's data), its devices enrolled
    and announced long ago (``backdate_enrollment``)."""
    name = f"team-{uuid.uuid4().hex[:8]}"
    roles = list(roles)

    async def seed(session: Any, now: datetime) -> list[dict[str, Any]]:
        await admin.create_team(session, name=name, now=now)
        codes = []
        for index, role in enumerate(roles):
            login = f"{role}{index}@{name}.example"
            await admin.create_user(session, team=name, login=login, name=f"{role.title()} {index}", role=role,
                                    time_zone=time_zone, now=now)
            codes.append(await admin.issue_code(session, login=login, now=now) | {"role": role})
        return codes

    people = []
    for entry in asyncio.run(run_in_session(server.database_url, seed)):
        body = enroll(server, entry["code"])
        user = body["user"]
        people.append(Person(user_id=user["id"], login=user["login"], name=user["name"], role=entry["role"],
                             token=body["token"], device_id=body["device_id"]))
    backdate_enrollment(server, [person.device_id for person in people], announced=True)
    return Team(name=name, people=people)


def slot(start: datetime, *, active: int = 60, idle: int = 0, break_s: int = 0, input_s: int | None = None,
         keys: int = 10, clicks: int = 2, scrolls: int = 1, mouse_px: int = 300) -> dict[str, Any]:
    return {"start": start.isoformat().replace("+00:00", "Z"), "tracked_s": active + idle + break_s,
            "active_s": active, "idle_s": idle, "break_s": break_s,
            "input_s": active if input_s is None else input_s,
            "keys": keys, "clicks": clicks, "scrolls": scrolls, "mouse_px": mouse_px}


def recent_minutes(count: int, *, ago: int = 10) -> list[datetime]:
    """``count`` consecutive closed UTC minutes, the last one ``ago`` minutes before now."""
    last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=ago)
    return [last - timedelta(minutes=count - 1 - i) for i in range(count)]


def post_batch(server: ServerProcess, person: Person, slots: list[dict[str, Any]],
               batch_id: str | None = None) -> requests.Response:
    return requests.post(server.url + "/api/v1/activity", headers=person.headers, timeout=10,
                         json={"batch_id": batch_id or str(uuid.uuid4()), "slots": slots})


def get(server: ServerProcess, person: Person, path: str) -> requests.Response:
    return requests.get(server.url + path, headers=person.headers, timeout=10)


def put_presence(server: ServerProcess, person: Person, state: str, seq: int,
                 since: datetime | None = None) -> requests.Response:
    since = since or datetime.now(UTC)
    return requests.put(server.url + "/api/v1/presence", headers=person.headers, timeout=10,
                        json={"state": state, "since": since.isoformat(), "seq": seq})


class LiveClient:
    """A real python-socketio client that records every event it receives, for waiting and asserting."""

    def __init__(self, server: ServerProcess, token: str | None, *, reconnection: bool = True) -> None:
        """``token=None`` connects without any ``auth``, as a misbehaving client would."""
        self.server, self.token = server, token
        self.sio = socketio.Client(reconnection=reconnection, reconnection_delay=0.1, reconnection_delay_max=0.5,
                                   randomization_factor=0.1)
        self.events: list[tuple[str, Any]] = []
        self.connects = 0
        self._changed = threading.Condition()
        self.sio.on("*", self._record)
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)
        # The server's refusal reason arrives here; connect() itself only says a namespace failed.
        self.sio.on("connect_error", lambda data=None: self._record("connect_error", data))

    def _record(self, event: str, *args: Any) -> None:
        with self._changed:
            self.events.append((event, args[0] if args else None))
            self._changed.notify_all()

    def _connected(self) -> None:
        with self._changed:
            self.connects += 1
            self._changed.notify_all()

    def _disconnected(self, _reason: Any = None) -> None:
        with self._changed:
            self._changed.notify_all()

    def connect(self) -> LiveClient:
        self.sio.connect(self.server.url, socketio_path="/api/socket",
                         auth=None if self.token is None else (lambda: {"token": self.token}),
                         transports=["websocket"], wait_timeout=10)
        return self

    def close(self) -> None:
        self.sio.disconnect()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        return wait_on(self._changed, condition, timeout)

    def wait_for(self, event: str, match: Callable[[Any], bool] = lambda _d: True, timeout: float = 3.0) -> Any:
        found: list[Any] = []

        def seen() -> bool:
            found[:] = [data for name, data in self.events if name == event and match(data)]
            return bool(found)

        if not self.wait_until(seen, timeout):
            raise AssertionError(f"no {event!r} matching within {timeout} s; got {self.events}")
        return found[0]

    def received(self, event: str, match: Callable[[Any], bool] = lambda _d: True) -> list[Any]:
        with self._changed:
            return [data for name, data in self.events if name == event and match(data)]


def settle(seconds: float) -> None:
    """Give events that should NOT arrive a fair chance to arrive before asserting their absence."""
    time.sleep(seconds)
