"""Activity ingest: exactly-once storage, exact totals, and whole-batch refusal of bad input."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from support.servers import ServerProcess
from support.team import Person, Team, get, post_batch, recent_minutes, slot


def day_totals(server: ServerProcess, person: Person, day: str) -> dict[str, Any]:
    answer = get(server, person, f"/api/v1/me/days/{day}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


YESTERDAY_NOON = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


def noon_minutes(count: int) -> list[datetime]:
    """Minutes of yesterday noon UTC (the test team lives in UTC): one whole day, whenever the test runs."""
    return [YESTERDAY_NOON + timedelta(minutes=i) for i in range(count)]


@pytest.fixture
def utc_team(server: ServerProcess) -> Team:
    from support.team import make_team

    return make_team(server, roles=["manager", "member"], time_zone="UTC")


def test_same_batch_three_times_and_overlaps_store_each_minute_once(server: ServerProcess, utc_team: Team) -> None:
    person = utc_team.people[1]
    minutes = noon_minutes(6)
    first = [slot(m, active=50, idle=10, input_s=30, keys=7, clicks=1, mouse_px=100) for m in minutes[:4]]
    batch_id = str(uuid.uuid4())
    answers = [post_batch(server, person, first, batch_id).json() for _ in range(3)]
    assert answers == [{"accepted": 4, "duplicates": 0}] + [{"accepted": 0, "duplicates": 4}] * 2

    overlapping = [slot(m, active=50, idle=10, input_s=30, keys=7, clicks=1, mouse_px=100) for m in minutes[2:]]
    assert post_batch(server, person, overlapping).json() == {"accepted": 2, "duplicates": 2}

    report = day_totals(server, person, minutes[0].date().isoformat())
    assert [s["start"] for s in report["slots"]] == [m.isoformat().replace("+00:00", "Z") for m in minutes]
    assert report["totals"] == {"tracked_s": 360, "active_s": 300, "idle_s": 60, "break_s": 0, "input_s": 180,
                                "keys": 42, "clicks": 6, "scrolls": 6, "mouse_px": 600, "activity_pct": 60.0}


def test_batch_id_reused_for_other_slots_is_a_conflict(server: ServerProcess, utc_team: Team) -> None:
    person = utc_team.people[1]
    minutes = noon_minutes(2)
    batch_id = str(uuid.uuid4())
    assert post_batch(server, person, [slot(minutes[0])], batch_id).status_code == 200
    answer = post_batch(server, person, [slot(minutes[1])], batch_id)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "batch_id"
    assert len(day_totals(server, person, minutes[0].date().isoformat())["slots"]) == 1


def test_concurrent_uploads_answer_as_if_stored_one_by_one(server: ServerProcess, utc_team: Team) -> None:
    """Uploads arriving together share a transaction (group commit): a retried batch is still accepted once,
    overlapping batches still store each minute once, and a reused batch id still stores nothing of its own."""
    person = utc_team.people[1]
    minutes = noon_minutes(30)
    used_id = str(uuid.uuid4())
    assert post_batch(server, person, [slot(minutes[0])], used_id).json() == {"accepted": 1, "duplicates": 0}
    retried_id = str(uuid.uuid4())
    jobs: list[tuple[list[dict[str, Any]], str | None]] = [([slot(m) for m in minutes[1:4]], retried_id)] * 8
    jobs += [([slot(m) for m in minutes[i:i + 5]], None) for i in range(4, 24, 2)]  # minutes 4…26, overlapping
    jobs.append(([slot(minutes[24]), slot(minutes[29])], used_id))  # minute 24 is others' too, 29 only its own
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: post_batch(server, person, *job), jobs))
    conflict = answers.pop()
    assert (conflict.status_code, conflict.json()["error"]["field"]) == (409, "batch_id")
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    retried, windows = [a.json() for a in answers[:8]], [a.json() for a in answers[8:]]
    assert sorted(retried, key=lambda body: -body["accepted"]) == (
        [{"accepted": 3, "duplicates": 0}] + [{"accepted": 0, "duplicates": 3}] * 7)
    assert sum(w["accepted"] for w in windows) == 23 and all(w["accepted"] + w["duplicates"] == 5 for w in windows)
    report = day_totals(server, person, minutes[0].date().isoformat())
    assert [s["start"] for s in report["slots"]] == [m.isoformat().replace("+00:00", "Z") for m in minutes[:27]]
    assert report["totals"]["tracked_s"] == 27 * 60


def test_two_devices_in_one_minute_count_the_minute_once(server: ServerProcess, utc_team: Team) -> None:
    from support.team import backdate_enrollment, enroll, issue_code

    person = utc_team.people[1]
    laptop = enroll(server, issue_code(server, person.login), device_name="laptop")
    backdate_enrollment(server, [laptop["device_id"]])
    second = Person(person.user_id, person.login, person.name, person.role, laptop["token"], laptop["device_id"])
    minute = noon_minutes(1)[0]
    assert post_batch(server, person, [slot(minute, active=20, idle=40, keys=5)]).json()["accepted"] == 1
    assert post_batch(server, second, [slot(minute, active=45, idle=15, keys=9)]).json()["accepted"] == 1
    totals = day_totals(server, person, minute.date().isoformat())["totals"]
    assert (totals["tracked_s"], totals["active_s"], totals["idle_s"], totals["keys"]) == (60, 45, 15, 14)


def _now_minute(minutes_from_now: int) -> str:
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes_from_now)
    return moment.isoformat()




def _case(field: str, value: Any) -> dict[str, Any]:
    return {"start": _now_minute(-3)} | {field: value}


BAD_SLOTS = [
    pytest.param(_case("keys", -1), "slots[1].keys", id="negative-count"),
    pytest.param(_case("keys", "7"), "slots[1].keys", id="string-count"),
    pytest.param(_case("clicks", 1.5), "slots[1].clicks", id="float-count"),
    pytest.param(_case("active_s", 61), "slots[1].active_s", id="over-a-minute"),
    pytest.param(_case("idle_s", 5), "slots[1]", id="inconsistent-seconds"),
    pytest.param(_case("input_s", 61), "slots[1].input_s", id="input-over-minute"),
    pytest.param({"start": _now_minute(-3), "input_s": 60, "active_s": 30, "idle_s": 30}, "slots[1]",
                 id="input-over-active"),
    pytest.param({"start": _now_minute(-3), "colour": "red"}, "slots[1].colour", id="unknown-field"),
    pytest.param({"start": _now_minute(-3)[:-6]}, "slots[1].start", id="naive-time"),
    pytest.param({"start": 1767225600}, "slots[1].start", id="numeric-time"),
    pytest.param({"start": _now_minute(-3).replace(":00+", ":30+")}, "slots[1].start", id="unaligned"),
    pytest.param({"start": _now_minute(24 * 60)}, "slots[1].start", id="future"),
    pytest.param({"start": "2001-01-01T00:00:00Z"}, "slots[1].start", id="ancient"),
]


@pytest.mark.parametrize("override, field", BAD_SLOTS)
def test_one_bad_slot_refuses_the_whole_batch(server: ServerProcess, utc_team: Team, override: dict[str, Any],
                                              field: str) -> None:
    person = utc_team.people[1]
    good = slot(noon_minutes(5)[0])
    bad = slot(datetime.now(UTC)) | override
    answer = post_batch(server, person, [good, bad])
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    report = day_totals(server, person, good["start"][:10])
    assert report["slots"] == [], "a refused batch stored something"


@pytest.mark.parametrize("body, status, field", [
    pytest.param(b"{not json", 400, "body", id="malformed-json"),
    pytest.param(json.dumps({"slots": []}).encode(), 422, "batch_id", id="missing-batch-id"),
    pytest.param(json.dumps({"batch_id": "nope", "slots": []}).encode(), 422, "batch_id", id="bad-uuid"),
    pytest.param(json.dumps({"batch_id": str(uuid.uuid4()), "slots": []}).encode(), 422, "slots",
                 id="empty-batch"),
    pytest.param(json.dumps([1, 2]).encode(), 422, "body", id="not-an-object"),
])
def test_malformed_batches_are_refused(server: ServerProcess, utc_team: Team, body: bytes, status: int,
                                       field: str) -> None:
    person = utc_team.people[1]
    answer = requests.post(server.url + "/api/v1/activity", data=body, timeout=10,
                           headers=person.headers | {"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field


def test_repeated_minute_inside_one_batch_is_refused(server: ServerProcess, utc_team: Team) -> None:
    minute = noon_minutes(1)[0]
    answer = post_batch(server, utc_team.people[1], [slot(minute), slot(minute)])
    assert answer.status_code == 422
    assert "repeats" in answer.json()["error"]["message"]


def test_oversized_body_and_batch_caps(server: ServerProcess, utc_team: Team) -> None:
    person = utc_team.people[1]
    huge = requests.post(server.url + "/api/v1/activity", data=b"x" * (600 * 1024), timeout=10,
                         headers=person.headers | {"Content-Type": "application/json"})
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "too_large")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    many = [slot(start + timedelta(minutes=i)) for i in range(501)]
    answer = post_batch(server, person, many)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "slots"


def test_unauthenticated_writes_are_refused(server: ServerProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        answer = requests.post(server.url + "/api/v1/activity", headers=headers, timeout=10,
                               json={"batch_id": str(uuid.uuid4()), "slots": [slot(recent_minutes(1)[0])]})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"


def test_one_transaction_of_uploads_keeps_a_users_minute_within_the_bound(database_url: str) -> None:
    """Batches of two devices of one user stored in one transaction (group commit) are checked as if stored one
    by one: the first fills the minute's keys, the second is refused naming its count and stores nothing,
    the same minute again from the first device adds nothing, and another user's minute is untouched by either."""
    from server import admin
    from server.errors import Invalid
    from server.ingest import _Upload, store_group
    from server.migrate import run_in_session
    from server.models import ActivitySlot, Device

    minute = noon_minutes(1)[0]

    def counts(keys: int) -> dict[str, Any]:
        return {"start": minute, "tracked_s": 60, "active_s": 60, "idle_s": 0, "break_s": 0, "input_s": 60,
                "keys": keys, "clicks": 0, "scrolls": 0, "mouse_px": 0}

    async def scenario(session: Any, now: datetime) -> None:
        team = f"team-{uuid.uuid4().hex[:8]}"
        await admin.create_team(session, name=team, now=now)
        users = [(await admin.create_user(session, team=team, login=f"{n}@{team}.example", name=n, now=now))["id"]
                 for n in ("ann", "bo")]
        devices = [Device(user_id=user, name="pc", platform="linux", agent_version="t", token_hash=uuid.uuid4().hex,
                          created_at=now) for user in (users[0], users[0], users[1])]
        session.add_all(devices)
        await session.flush()

        def waiting(device: Device, keys: int) -> _Upload:
            return _Upload(device.id, device.user_id, "UTC", str(uuid.uuid4()), uuid.uuid4().hex, now, [counts(keys)])

        group = [waiting(devices[0], 5_000), waiting(devices[1], 1_001), waiting(devices[0], 5_000),
                 waiting(devices[2], 6_000)]
        outcomes = await store_group(session, group)
        assert outcomes[0] == {minute} and outcomes[2] == set() and outcomes[3] == {minute}
        refused = outcomes[1]
        assert isinstance(refused, Invalid) and refused.field == "slots[0].keys", refused
        stored = (await session.execute(select(ActivitySlot.device_id, ActivitySlot.keys)
                                        .where(ActivitySlot.start == minute,
                                               ActivitySlot.device_id.in_([d.id for d in devices])))).all()
        assert sorted(stored) == sorted([(devices[0].id, 5_000), (devices[2].id, 6_000)])

    asyncio.run(run_in_session(database_url, scenario))
