"""A device's token lets it say anything: the server must not believe what no person or machine could do.

Issue 13, item 5, over raw HTTP against a real server: 10,000,000 keys in one minute; counts that add up
across a user's devices without bound; 500 minutes backfilled from 29 days ago by a device enrolled seconds
earlier; minutes up to 4 minutes in the future; a presence ``since`` of 9999-12-31 with ``seq`` 2^63−1 that
showed "active since 9999" and locked the device's later reports out. Each refusal of minutes names the field
and stores nothing of its batch; a presence from the future is shown from the server's now (docs/protocol.md,
"Bounds" and "Time tolerances").
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from protocol.schema import COUNT_LIMITS, MAX_KEYS_PER_MINUTE
from server.migrate import run_in_session
from server.models import ActivitySlot
from support.servers import ServerProcess
from support.team import Person, backdate_enrollment, enroll, issue_code, make_team, slot


def send(server: ServerProcess, method: str, path: str, payload: Any, token: str) -> tuple[int, Any]:
    """One request on its own connection (``payload`` as JSON, ``None`` for no body): no client library."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request(method, path, body=None if payload is None else json.dumps(payload).encode(),
                           headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def upload(server: ServerProcess, person: Person, slots: list[dict[str, Any]]) -> tuple[int, Any]:
    return send(server, "POST", "/api/v1/activity", {"batch_id": str(uuid.uuid4()), "slots": slots}, person.token)


def refused_field(answer: tuple[int, Any], code: str = "invalid") -> str:
    status, body = answer
    assert status == 422 and body["error"]["code"] == code, answer
    field: str = body["error"]["field"]
    return field


def stored(server: ServerProcess, user_id: int) -> tuple[int, int]:
    """The user's stored minutes and keys, read from the database itself."""
    async def read(session: Any, _now: datetime) -> tuple[int, int]:
        count, keys = (await session.execute(select(func.count(), func.coalesce(func.sum(ActivitySlot.keys), 0))
                                             .where(ActivitySlot.user_id == user_id))).one()
        return int(count), int(keys)

    result: tuple[int, int] = asyncio.run(run_in_session(server.database_url, read))
    return result


def member(server: ServerProcess) -> Person:
    """A member of a fresh team whose device was enrolled long ago (it may upload the past days)."""
    return make_team(server, roles=["member"], time_zone="UTC").people[0]


def another_device(server: ServerProcess, person: Person, *, backdated: bool) -> Person:
    """A further device of ``person``, enrolled now with a personal code (then backdated if asked)."""
    body = enroll(server, issue_code(server, person.login), device_name="second-pc")
    if backdated:
        backdate_enrollment(server, [body["device_id"]])
    return dataclasses.replace(person, token=body["token"], device_id=body["device_id"])


def this_minute(offset: int = 0) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=offset)


def test_a_count_beyond_what_people_and_hardware_produce_is_refused_naming_it(server: ServerProcess) -> None:
    person = member(server)
    start = this_minute(-24 * 60)
    for name, limit in COUNT_LIMITS.items():
        answer = upload(server, person, [slot(start), slot(start + timedelta(minutes=1)) | {name: limit + 1}])
        assert refused_field(answer) == f"slots[1].{name}"
    assert refused_field(upload(server, person, [slot(start, keys=10_000_000)])) == "slots[0].keys"
    assert stored(server, person.user_id) == (0, 0), "a refused batch stored nothing"
    assert upload(server, person, [slot(start) | COUNT_LIMITS]) == (200, {"accepted": 1, "duplicates": 0}), \
        "every count at its bound is a minute people and hardware can make"


def test_a_users_devices_together_stay_within_the_bound_of_one_minute(server: ServerProcess) -> None:
    person = member(server)
    laptop = another_device(server, person, backdated=True)
    minute, other = this_minute(-2 * 60), this_minute(-2 * 60 + 1)
    assert upload(server, person, [slot(minute, keys=MAX_KEYS_PER_MINUTE)])[0] == 200
    over = upload(server, laptop, [slot(other, keys=1), slot(minute, keys=1)])
    assert refused_field(over, "minute_full") == "slots[1].keys"
    assert "other devices" in over[1]["error"]["message"]
    assert stored(server, person.user_id) == (1, MAX_KEYS_PER_MINUTE), "nothing of the refused batch was stored"
    assert upload(server, laptop, [slot(minute, keys=0)])[0] == 200, "the same minute without keys stays within"

    # Uploads of both devices at once (the server stores them in one transaction): one of each pair fits.
    minutes = [this_minute(-3 * 60 + i) for i in range(6)]
    jobs = [(device, m) for m in minutes for device in (person, laptop)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: upload(server, job[0], [slot(job[1], keys=4_000)]), jobs))
    statuses = sorted(status for status, _body in answers)
    assert statuses == [200] * len(minutes) + [422] * len(minutes), answers
    assert stored(server, person.user_id) == (2 + len(minutes), MAX_KEYS_PER_MINUTE + 4_000 * len(minutes))


def test_minutes_from_before_the_device_was_enrolled_are_refused(server: ServerProcess) -> None:
    person = member(server)
    fresh = another_device(server, person, backdated=False)
    backfill = [slot(this_minute(-29 * 24 * 60) + timedelta(minutes=i)) for i in range(500)]
    assert refused_field(upload(server, fresh, backfill), "before_enrollment") == "slots[499].start", \
        "the latest minute from before enrollment is named, so the agent can set aside just those"
    assert refused_field(upload(server, fresh, [slot(this_minute(-1)), slot(this_minute(-5))]),
                         "before_enrollment") == "slots[1].start"
    assert stored(server, person.user_id) == (0, 0)
    # The minute the agent started in (begun before its enrollment) and the one before, within the skew.
    assert upload(server, fresh, [slot(this_minute(-1)), slot(this_minute())])[1] == {"accepted": 2,
                                                                                      "duplicates": 0}


def test_minutes_ahead_of_the_servers_clock_are_refused(server: ServerProcess) -> None:
    person = member(server)
    for ahead in (2, 4):
        answer = upload(server, person, [slot(this_minute(-10)), slot(this_minute(ahead))])
        assert refused_field(answer, "not_begun") == "slots[1].start"
        assert "not begun" in answer[1]["error"]["message"]
    assert stored(server, person.user_id) == (0, 0)
    assert upload(server, person, [slot(this_minute())])[1] == {"accepted": 1, "duplicates": 0}, \
        "the current minute, sent partial when an agent stops, has begun"


def report(server: ServerProcess, person: Person, state: str, since: str, seq: int) -> tuple[int, Any]:
    return send(server, "PUT", "/api/v1/presence", {"state": state, "since": since, "seq": seq}, person.token)


def test_a_presence_from_the_future_is_shown_from_now_and_no_seq_locks_a_device_out(server: ServerProcess) -> None:
    person = member(server)
    status, ack = report(server, person, "active", "9999-12-31T23:59:59Z", 2**63 - 1)
    shown = datetime.fromisoformat(ack["since"])
    assert status == 200 and shown <= datetime.now(UTC), "a state is never shown as beginning in the future"
    status, team = send(server, "GET", "/api/v1/team", None, person.token)
    assert status == 200 and all(m["since"] is None or m["since"] < "9999" for m in team["members"]), team

    # The agent's next state, with its own seq: it begins later, so it wins over the huge seq.
    later = shown + timedelta(milliseconds=1)
    status, ack = report(server, person, "idle", later.isoformat(), 7)
    assert (status, ack["applied"], ack["state"]) == (200, True, "idle"), ack
    assert later <= datetime.fromisoformat(ack["since"]) <= datetime.now(UTC)
    stale = report(server, person, "break", (shown - timedelta(seconds=30)).isoformat(), 6)
    assert stale[1]["applied"] is False and stale[1]["state"] == "idle", "a late, older report still loses"


def test_a_presence_since_before_enrollment_is_shown_from_the_enrollment(server: ServerProcess) -> None:
    person = member(server)
    before = datetime.now(UTC) - timedelta(seconds=1)
    fresh = another_device(server, person, backdated=False)
    status, ack = report(server, fresh, "idle", "1970-01-01T00:00:00Z", 1)
    assert status == 200 and ack["applied"] is True, ack
    assert datetime.fromisoformat(ack["since"]) >= before, "the device vouches for nothing before it existed"
