"""Day summaries kept fresh off the request path (``server.summariser``), the freshness bound readers may serve a
stale day within (``server.days.usable``), and the range answers that splice the stored hours JSON, against real
servers on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from protocol.schema import MemberDay, MemberDays, TeamDays
from server import history
from server.config import Settings
from server.migrate import run_in_session
from server.models import User, UserDay
from support.servers import TEST_SERVER_ARGS, ServerProcess, sqlite_server
from support.team import Person, get, make_team, post_batch, slot
from support.waiting import poll

MINUTE = timedelta(minutes=1)
DAY = date(2026, 11, 10)
#: 08:00 in Berlin on ``DAY``.
MORNING = datetime(2026, 11, 10, 7, tzinfo=UTC)


def week(person: Person, day: date = DAY) -> str:
    return f"/api/v1/team/members/{person.user_id}/days?start={day - timedelta(days=6)}&end={day}"


def active_on(server: ServerProcess, person: Person, day: date = DAY) -> int:
    days = MemberDays.model_validate(get(server, person, week(person, day)).json()).days
    return days[-1].totals.active_s


def row_of(server: ServerProcess, user_id: int, day: date = DAY) -> Any:
    async def read(session: Any, _now: datetime) -> Any:
        return (await session.execute(select(UserDay.__table__).where(
            UserDay.user_id == user_id, UserDay.day == day))).one()

    return asyncio.run(run_in_session(server.database_url, read))


def change_row(server: ServerProcess, user_id: int, **values: Any) -> None:
    async def write(session: Any, _now: datetime) -> None:
        await session.execute(update(UserDay).where(UserDay.user_id == user_id, UserDay.day == DAY).values(**values))

    asyncio.run(run_in_session(server.database_url, write))


@pytest.fixture(scope="module")
def summarising(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose readers serve any summed row, however stale: only the summariser can bring new minutes
    into a range."""
    with sqlite_server(tmp_path_factory.mktemp("summarising"), "--summary-interval", "0.2",
                       "--summary-max-age", "86400") as server:
        yield server


@pytest.fixture(scope="module")
def reading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose summariser runs only at start: what a range shows is the readers' doing."""
    with sqlite_server(tmp_path_factory.mktemp("reading"), "--summary-interval", "86400") as server:
        yield server


def test_the_summariser_sums_a_day_soon_after_an_upload(summarising: ServerProcess) -> None:
    alice = make_team(summarising, roles=["member"]).people[0]
    assert post_batch(summarising, alice, [slot(MORNING, active=60)]).status_code == 200
    poll(lambda: True if active_on(summarising, alice) == 60 else None, timeout=30, what="the first minute")
    assert post_batch(summarising, alice, [slot(MORNING + MINUTE, active=30, idle=30)]).status_code == 200

    def summed() -> Any:
        row = row_of(summarising, alice.user_id)
        return row if row.summarised == row.version else None

    row = poll(summed, timeout=30, what="the day summed again after the upload, with no read asking")
    assert (row.active_s, row.idle_s) == (90, 30)
    assert active_on(summarising, alice) == 90


def test_a_late_minute_for_a_past_day_is_in_the_range_once_summed(summarising: ServerProcess) -> None:
    bob = make_team(summarising, roles=["member"], time_zone="America/New_York").people[0]
    past = DAY - timedelta(days=3)
    evening = datetime(2026, 11, 7, 22, tzinfo=UTC)  # 17:00 in New York
    assert post_batch(summarising, bob, [slot(evening, active=60)]).status_code == 200
    poll(lambda: True if active_on(summarising, bob, past) == 60 else None, timeout=30, what="the day's minute")
    assert post_batch(summarising, bob, [slot(evening + 5 * MINUTE, active=45, idle=15)]).status_code == 200
    poll(lambda: True if active_on(summarising, bob, past) == 105 else None, timeout=30,
         what="the late minute in the past day's totals")


def test_a_stale_day_is_served_only_while_its_summary_is_younger_than_the_bound(reading: ServerProcess) -> None:
    """Default bound, 60 s: a stale row summed 30 s ago is served as it is (the marker 4242 shows it), one
    summed 120 s ago is summed again by the read. A row never summed is always summed by the read."""
    carol = make_team(reading, roles=["member"]).people[0]
    assert post_batch(reading, carol, [slot(MORNING, active=60)]).status_code == 200
    assert active_on(reading, carol) == 60, "a day never summed is summed by its reader"
    assert post_batch(reading, carol, [slot(MORNING + MINUTE, active=20, idle=40)]).status_code == 200
    now = datetime.now(UTC)
    change_row(reading, carol.user_id, idle_s=4242, summarised_at=now - timedelta(seconds=30))
    days = MemberDays.model_validate(get(reading, carol, week(carol)).json()).days
    assert (days[-1].totals.active_s, days[-1].totals.idle_s) == (60, 4242), "within the bound: served as kept"
    change_row(reading, carol.user_id, summarised_at=now - timedelta(seconds=120))
    days = MemberDays.model_validate(get(reading, carol, week(carol)).json()).days
    assert (days[-1].totals.active_s, days[-1].totals.idle_s) == (80, 40), "past the bound: summed again"
    assert row_of(reading, carol.user_id).summarised == row_of(reading, carol.user_id).version


def test_range_answers_splice_the_stored_hours_byte_for_byte(reading: ServerProcess) -> None:
    """The routes write the stored hours into the answer unparsed; the answer is the model's own JSON, byte for
    byte, even with names that spell the spliced fields."""
    team = make_team(reading, roles=["manager", "member"])
    manager, dave = team.people

    async def rename(session: Any, _now: datetime) -> None:
        await session.execute(update(User).where(User.id == dave.user_id)
                              .values(name='D "hours":[] "days":[] "members":[]'))

    asyncio.run(run_in_session(reading.database_url, rename))
    assert post_batch(reading, dave, [slot(MORNING + k * MINUTE, active=50, idle=10) for k in range(90)]
                      ).status_code == 200
    path = f"/api/v1/team/days?start={DAY - timedelta(days=6)}&end={DAY}"
    assert get(reading, manager, path).status_code == 200  # sums and keeps the days: the next reads splice them
    answer, mine = get(reading, manager, path), get(reading, dave, week(dave))
    settings = Settings(database_url=reading.database_url, retention_days=3650)

    async def oracle(session: Any, now: datetime) -> tuple[TeamDays, MemberDays]:
        user = await session.get(User, dave.user_id)
        return (await history.team_days(session, user.team_id, DAY - timedelta(days=6), DAY, now=now,
                                        settings=settings),
                await history.one_member_days(session, user, DAY - timedelta(days=6), DAY, now=now,
                                              settings=settings))

    want_team, want_member = asyncio.run(run_in_session(reading.database_url, oracle))
    assert TeamDays.model_validate_json(answer.content) == want_team
    assert answer.content == want_team.model_dump_json().encode()
    assert MemberDays.model_validate_json(mine.content) == want_member
    assert mine.content == want_member.model_dump_json().encode()
    day = next(m for m in want_team.members if m.user_id == dave.user_id).days[-1]
    assert day.totals.active_s == 90 * 50 and sum(hour.active_s for hour in day.hours) == 90 * 50
    assert len(day.hours) == 24


def test_two_servers_summarise_one_database_without_counting_a_minute_twice(tmp_path: Path) -> None:
    """A cluster: two servers on one SQLite file, both summarising every 0.1 s while minutes for three members
    and three days arrive through both. Every day ends summed once more, to the totals its minutes give (the
    single-day answer, always summed from the minutes), and neither server logs a failed pass."""
    url = f"sqlite:///{tmp_path / 'cluster.db'}"
    args = (*TEST_SERVER_ARGS, "--summary-interval", "0.1", "--summary-max-age", "86400")
    one = ServerProcess(url, tmp_path / "one.log", *args).start()
    two = ServerProcess(url, tmp_path / "two.log", *args).start()
    try:
        people = make_team(one, roles=["member", "member", "member"]).people
        for round_ in range(6):
            for index, person in enumerate(people):
                for back in range(3):
                    start = MORNING - timedelta(days=back) + (round_ * 3 + index) * MINUTE
                    server = (one, two)[(round_ + index + back) % 2]
                    assert post_batch(server, person, [slot(start, active=40 + back, idle=20 - back)]
                                      ).status_code == 200

        def all_summed() -> bool | None:
            async def stale(session: Any, _now: datetime) -> int:
                return len((await session.execute(select(UserDay.user_id).where(
                    (UserDay.summarised.is_(None)) | (UserDay.summarised != UserDay.version)))).all())

            return True if asyncio.run(run_in_session(url, stale)) == 0 else None

        poll(all_summed, timeout=60, what="every day summed by the two summarisers")
        for person in people:
            for back in range(3):
                day = DAY - timedelta(days=back)
                kept = MemberDays.model_validate(get(two, person, week(person, day)).json()).days[-1]
                single = MemberDay.model_validate(
                    get(one, person, f"/api/v1/team/members/{person.user_id}/days/{day}").json())
                assert kept.totals == single.totals and kept.hours == single.hours
                assert kept.totals.active_s == 6 * (40 + back)
    finally:
        two.stop()
        one.stop()
    for log in ("one.log", "two.log"):
        assert "day summary pass failed" not in (tmp_path / log).read_text()
