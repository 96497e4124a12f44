"""The history routes against a real server: days cut in each member's own zone (DST days of 23 and 25 hours),
minutes of two devices merged as the live totals merge them, the minute timeline, and who may read what."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select, update

from protocol.export import member_csv, team_csv
from protocol.schema import HourProfile, MemberDay, MemberDays, Retention, TeamDay, TeamDays
from server.migrate import run_in_session
from server.models import UserDay
from support.servers import ServerProcess
from support.team import Person, Team, backdate_enrollment, enroll, get, issue_code, make_team, post_batch, slot
from sync.api import ApiClient
from sync.errors import Refused

MINUTE = timedelta(minutes=1)
#: 2026-03-29 in Berlin: clocks go 02:00 → 03:00, the day is 23 hours from 2026-03-28T23:00Z.
SPRING = date(2026, 3, 29)
SPRING_START = datetime(2026, 3, 28, 23, tzinfo=UTC)
#: 2026-10-25 in Berlin: clocks go 03:00 → 02:00, the day is 25 hours from 2026-10-24T22:00Z.
AUTUMN = date(2026, 10, 25)
AUTUMN_START = datetime(2026, 10, 24, 22, tzinfo=UTC)


def second_device(server: ServerProcess, person: Person) -> Person:
    """Another enrolled device of the same user."""
    body = enroll(server, issue_code(server, person.login), device_name="laptop")
    backdate_enrollment(server, [body["device_id"]], announced=True)
    return Person(person.user_id, person.login, person.name, person.role, body["token"], body["device_id"])


@pytest.fixture(scope="module")
def berlin(server: ServerProcess) -> Team:
    """A manager and two members in Berlin; member 1 uploads a spring DST day from two devices."""
    team = make_team(server, roles=["manager", "member", "member"])
    alice = team.people[1]
    laptop = second_device(server, alice)
    start = SPRING_START
    # 01:00–01:03 local (00:00Z): the desktop active, the laptop on break in the same minutes.
    desk = [slot(start + 60 * MINUTE, active=40, idle=20, keys=5),          # a (40 active)
            slot(start + 61 * MINUTE, active=20, idle=20, break_s=20, keys=5),  # tie: a
            slot(start + 62 * MINUTE, active=0, idle=30, break_s=30, keys=0),  # tie break/idle: b
            slot(start + 63 * MINUTE, active=10, idle=50, keys=1)]           # i
    lap = [slot(start + 60 * MINUTE, active=10, break_s=50, keys=7),  # less active: its seconds lose, keys add
           slot(start + 64 * MINUTE, active=0, break_s=60, keys=0),  # only the laptop: b
           # 03:00 local is the second hour of the day (02:00 does not exist); the last minute of the day.
           slot(start + 2 * 60 * MINUTE, active=60, keys=3),
           slot(start + 23 * 60 * MINUTE - MINUTE, active=30, idle=30, keys=2),
           slot(start + 23 * 60 * MINUTE, active=60, keys=100)]  # the next day: not counted
    assert post_batch(server, alice, desk).status_code == 200
    assert post_batch(server, laptop, lap).status_code == 200
    return team


def test_a_member_day_over_spring_forward_merges_two_devices(server: ServerProcess, berlin: Team) -> None:
    manager, alice = berlin.people[0], berlin.people[1]
    day = MemberDay.model_validate(get(server, manager, f"/api/v1/team/members/{alice.user_id}/days/{SPRING}").json())
    assert (day.date, day.time_zone, day.name) == (SPRING, "Europe/Berlin", alice.name)
    assert len(day.timeline or "") == 23 * 60
    assert len(day.hours) == 23
    assert [hour.start for hour in day.hours[:3]] == [SPRING_START + k * timedelta(hours=1) for k in range(3)]
    assert day.timeline is not None
    assert day.timeline[59:66] == "-aabib-"
    assert day.timeline[120] == "a" and day.timeline[-1] == "a"
    assert day.timeline.count("-") == 23 * 60 - 7
    totals = day.totals
    # Seconds of the most active device per minute (the desktop's 40 s at 01:00), counts of both.
    assert totals.active_s == 40 + 20 + 0 + 10 + 0 + 60 + 30
    assert totals.break_s == 0 + 20 + 30 + 0 + 60 + 0 + 0
    assert totals.keys == 5 + 7 + 5 + 0 + 1 + 0 + 3 + 2
    assert totals.tracked_s == 7 * 60
    assert day.hours[1].active_s == 40 + 20 + 10 and day.hours[1].break_s == 20 + 30 + 60
    assert day.hours[2].active_s == 60 and day.hours[22].active_s == 30
    assert sum(hour.active_s for hour in day.hours) == totals.active_s
    assert day.first_activity == SPRING_START + 60 * MINUTE
    assert day.last_activity == SPRING_START + 23 * 60 * MINUTE


def test_the_same_day_reads_the_same_to_the_member_and_in_the_team_day(server: ServerProcess, berlin: Team) -> None:
    manager, alice, bob = berlin.people
    own = get(server, alice, f"/api/v1/team/members/{alice.user_id}/days/{SPRING}").json()
    team = TeamDay.model_validate(get(server, manager, f"/api/v1/team/days/{SPRING}").json())
    assert [m.user_id for m in team.members] == sorted((p.user_id for p in berlin.people),
                                                       key=lambda uid: {p.user_id: p.name for p in berlin.people}[uid])
    in_team = next(m for m in team.members if m.user_id == alice.user_id)
    assert in_team.model_dump(mode="json") == own | {"retention": None}  # the team answer carries it once
    quiet = next(m for m in team.members if m.user_id == bob.user_id)
    assert quiet.timeline == "-" * 23 * 60 and quiet.first_activity is None and quiet.totals.tracked_s == 0
    assert team.totals.active_s == in_team.totals.active_s
    assert team.retention.minutes_days == 3650


def test_a_range_has_every_day_without_timelines(server: ServerProcess, berlin: Team) -> None:
    manager, alice = berlin.people[0], berlin.people[1]
    path = f"/api/v1/team/days?start={SPRING - timedelta(days=1)}&end={SPRING + timedelta(days=1)}"
    days = TeamDays.model_validate(get(server, manager, path).json())
    member = next(m for m in days.members if m.user_id == alice.user_id)
    assert [d.date for d in member.days] == [SPRING - timedelta(days=1), SPRING, SPRING + timedelta(days=1)]
    assert all(d.timeline is None for m in days.members for d in m.days)
    single = get(server, manager, f"/api/v1/team/members/{alice.user_id}/days/{SPRING}").json()
    assert member.days[1].model_dump(mode="json") == single | {"timeline": None, "retention": None}
    # The minute after the DST day ended is the next day's.
    assert member.days[2].totals.keys == 100 and len(member.days[2].hours) == 24
    own = MemberDays.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days?start={SPRING}"
                                                       f"&end={SPRING + timedelta(days=1)}").json())
    assert own.days == member.days[1:]


def test_fall_back_day_has_25_hours(server: ServerProcess) -> None:
    alice = make_team(server, roles=["member"], time_zone="Europe/Berlin").people[0]
    # 02:30 local happens twice: 00:30Z and 01:30Z are the day's hours 2 and 3.
    assert post_batch(server, alice, [slot(AUTUMN_START + 150 * MINUTE), slot(AUTUMN_START + 210 * MINUTE),
                                      slot(AUTUMN_START + 25 * 60 * MINUTE - MINUTE, active=0, idle=60)]
                      ).status_code == 200
    day = MemberDay.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days/{AUTUMN}").json())
    assert day.timeline is not None and len(day.timeline) == 25 * 60 and len(day.hours) == 25
    assert [h.active_s for h in day.hours[2:4]] == [60, 60]
    assert day.timeline[-1] == "i"
    assert day.last_activity == AUTUMN_START + 211 * MINUTE


def test_team_history_is_for_managers(server: ServerProcess, berlin: Team) -> None:
    member = berlin.people[2]
    for path in (f"/api/v1/team/days/{SPRING}", f"/api/v1/team/days?start={SPRING}&end={SPRING}"):
        answer = get(server, member, path)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "manager_only"


def test_others_days_are_not_found(server: ServerProcess, berlin: Team) -> None:
    bob, alice = berlin.people[2], berlin.people[1]
    other_manager = make_team(server, roles=["manager"]).people[0]
    for caller in (bob, other_manager):
        for path in (f"/api/v1/team/members/{alice.user_id}/days/{SPRING}",
                     f"/api/v1/team/members/{alice.user_id}/days?start={SPRING}&end={SPRING}",
                     f"/api/v1/team/members/999999/days/{SPRING}"):
            answer = get(server, caller, path)
            assert answer.status_code == 404, (caller.role, path)
            assert answer.json() == {"error": {"code": "not_found", "message": "no such member"}}


@pytest.mark.parametrize("query, field", [
    ("start=2026-03-01", "query.end"),
    ("start=2026-3-1&end=2026-03-02", "query.start"),
    ("start=2026-03-01&end=1", "query.end"),
    ("start=2026-03-02&end=2026-03-01", "query.end"),
    ("start=2026-01-01&end=2026-03-04", "query.end"),  # 63 days
    ("start=0001-01-01&end=0001-01-03", "query.start"),
])
def test_bad_ranges_name_the_field(server: ServerProcess, berlin: Team, query: str, field: str) -> None:
    manager = berlin.people[0]
    for path in ("/api/v1/team/days", f"/api/v1/team/members/{manager.user_id}/days"):
        answer = get(server, manager, f"{path}?{query}")
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field


def test_the_longest_range_is_answered(server: ServerProcess, berlin: Team) -> None:
    answer = get(server, berlin.people[0], "/api/v1/team/days?start=2026-01-01&end=2026-03-03")
    assert answer.status_code == 200
    assert all(len(m["days"]) == 62 for m in answer.json()["members"])


@pytest.mark.parametrize("day", ["2026-02-30", "0", "9999-12-31"])
def test_bad_days_name_the_path(server: ServerProcess, berlin: Team, day: str) -> None:
    manager = berlin.people[0]
    for path in (f"/api/v1/team/days/{day}", f"/api/v1/team/members/{manager.user_id}/days/{day}"):
        answer = get(server, manager, path)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "path.day"


def test_the_client_reads_the_same_answers(server: ServerProcess, berlin: Team) -> None:
    manager, alice = berlin.people[0], berlin.people[1]
    client = ApiClient(server.url, lambda: manager.token)
    own = ApiClient(server.url, lambda: alice.token)
    try:
        def raw(person: Person, path: str) -> Any:
            return get(server, person, path).json()

        week = (SPRING - timedelta(days=3), SPRING + timedelta(days=3))
        assert client.team_day(SPRING).model_dump(mode="json") == raw(manager, f"/api/v1/team/days/{SPRING}")
        assert client.team_days(*week).model_dump(mode="json") == raw(
            manager, f"/api/v1/team/days?start={week[0]}&end={week[1]}")
        assert own.member_day(alice.user_id, SPRING) == client.member_day(alice.user_id, SPRING)
        assert own.member_days(alice.user_id, *week).days == next(
            m for m in client.team_days(*week).members if m.user_id == alice.user_id).days
        with pytest.raises(Refused) as refused:
            own.team_day(SPRING)
        assert refused.value.code == "manager_only"
    finally:
        client.close()
        own.close()


def report(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``staffpulse-server report`` on the server's database; its output as written (CSV lines end in CRLF)."""
    done = subprocess.run([sys.executable, "-m", "server.cli", "report", *args, "--database-url", server.database_url,
                           "--retention-days", "3650"], capture_output=True, timeout=120, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def test_the_report_command_gives_the_apis_numbers(server: ServerProcess, berlin: Team,
                                                   tmp_path: pathlib.Path) -> None:
    manager, alice = berlin.people[0], berlin.people[1]
    start, end = SPRING - timedelta(days=2), SPRING + timedelta(days=1)
    query = f"start={start}&end={end}"
    team = TeamDays.model_validate(get(server, manager, f"/api/v1/team/days?{query}").json())
    done = report(server, "--team", berlin.name, "--start", str(start), "--end", str(end))
    assert done.returncode == 0, done.stderr
    assert done.stdout == team_csv(team)
    assert str(team.members[0].days[0].totals.active_s) in done.stdout

    member = MemberDays.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days?{query}").json())
    out = tmp_path / "alice.csv"
    done = report(server, "--team", berlin.name, "--user", alice.login, "--start", str(start), "--end", str(end),
                  "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().decode() == member_csv(member)
    done = report(server, "--team", berlin.name, "--user", alice.login, "--start", str(start), "--end", str(end),
                  "--format", "json")
    assert MemberDays.model_validate_json(done.stdout) == member


@pytest.mark.parametrize("args, message", [
    (("--team", "no-such-team", "--start", "2026-03-01", "--end", "2026-03-02"), "--team"),
    (("--start", "2026-03-02", "--end", "2026-03-01"), "--end"),
    (("--user", "nobody@example.com", "--start", "2026-03-01", "--end", "2026-03-01"), "--user"),
])
def test_the_report_command_names_the_refused_flag(server: ServerProcess, berlin: Team, args: tuple[str, ...],
                                                   message: str) -> None:
    done = report(server, *(() if "--team" in args else ("--team", berlin.name)), *args)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}:"), done.stderr


def test_a_range_reads_kept_days_until_late_minutes_arrive(server: ServerProcess) -> None:
    """A range keeps the days it summed (``user_days``) and reads them next time; a minute arriving late for
    such a day (an agent back after days offline) makes the next range sum it again from the minutes."""
    alice = make_team(server, roles=["member"], time_zone="America/New_York").people[0]
    day = date(2026, 11, 1)  # New York's fall-back day: 25 hours from 04:00Z
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert post_batch(server, alice, [slot(start + 60 * MINUTE, active=60)]).status_code == 200
    path = f"/api/v1/team/members/{alice.user_id}/days?start={day}&end={day + timedelta(days=1)}"
    first = MemberDays.model_validate(get(server, alice, path).json())
    assert [d.totals.active_s for d in first.days] == [60, 0]

    async def doctor(session: Any, _now: datetime) -> None:  # what only a kept row can show
        await session.execute(update(UserDay).where(UserDay.user_id == alice.user_id).values(idle_s=4242))

    asyncio.run(run_in_session(server.database_url, doctor))
    kept = MemberDays.model_validate(get(server, alice, path).json())
    assert [d.totals.idle_s for d in kept.days] == [4242, 4242], "the second read came from the kept rows"
    assert kept.days[0].hours == first.days[0].hours and len(kept.days[0].hours) == 25

    # A late minute for the first day: that day is summed again, the other stays as kept.
    assert post_batch(server, alice, [slot(start + 24 * 60 * MINUTE, active=30, idle=30)]).status_code == 200
    late = MemberDays.model_validate(get(server, alice, path).json())
    assert [(d.totals.active_s, d.totals.idle_s) for d in late.days] == [(90, 30), (0, 4242)]
    assert late.days[0].last_activity == start + 24 * 60 * MINUTE + MINUTE
    single = MemberDay.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days/{day}").json())
    assert single.totals == late.days[0].totals and single.hours == late.days[0].hours


def test_days_past_the_minutes_window_are_their_kept_totals(tmp_path: pathlib.Path) -> None:
    """With a 30-day window, a day 40 days back is what ``user_days`` kept of it (the retention pass folds it
    there before deleting its minutes), without a timeline; a day with no row is zeros. Its own database: the
    server's retention pass deletes old minutes."""
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server.log",
                           "--retention-days", "30").start()
    try:
        manager, alice = make_team(server, roles=["manager", "member"], time_zone="Asia/Kolkata").people
        old = datetime.now(UTC).date() - timedelta(days=40)
        hours = [HourProfile(start=datetime.combine(old, datetime.min.time(), UTC) + k * timedelta(hours=1))
                 for k in range(24)]

        async def keep(session: Any, _now: datetime) -> None:
            session.add(UserDay(user_id=alice.user_id, day=old, time_zone="Asia/Kolkata", tracked_s=600,
                                active_s=500, idle_s=100, break_s=0, input_s=250, keys=7, clicks=1, scrolls=0,
                                mouse_px=9, activity_pct=50.0, first_activity=None, last_activity=None,
                                hours=TypeAdapter(list[HourProfile]).dump_json(hours).decode(), version=0,
                                summarised=0))

        asyncio.run(run_in_session(server.database_url, keep))
        single = MemberDay.model_validate(get(server, manager,
                                              f"/api/v1/team/members/{alice.user_id}/days/{old}").json())
        assert (single.totals.active_s, single.totals.keys, single.timeline) == (500, 7, None)
        assert single.hours == hours
        team = TeamDay.model_validate(get(server, manager, f"/api/v1/team/days/{old}").json())
        assert team.totals.active_s == 500 and all(m.timeline is None for m in team.members)
        assert team.retention.minutes_days == 30
        week = TeamDays.model_validate(get(server, manager, f"/api/v1/team/days?start={old - timedelta(days=1)}"
                                                            f"&end={old}").json())
        assert [[d.totals.active_s for d in m.days] for m in week.members] == [[0, 0], [0, 500]]
    finally:
        server.stop()


def test_days_after_today_are_zeros_and_write_nothing(server: ServerProcess) -> None:
    """Issue 15 review, item 2: a range after the member's local today (the History tab asks for the whole
    current week) is answered with empty days and writes no ``user_days`` row; asking for ranges up to year
    9999 once grew the database by a row per day asked."""
    alice = make_team(server, roles=["member"], time_zone="Pacific/Kiritimati").people[0]  # UTC+14
    today = datetime.now(UTC).date()

    async def rows(session: Any, _now: datetime) -> int:
        return len(list(await session.scalars(select(UserDay.day).where(UserDay.user_id == alice.user_id))))

    for start, end in ((today + timedelta(days=3), today + timedelta(days=64)),
                       (date(9999, 10, 30), date(9999, 12, 30))):
        days = MemberDays.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days"
                                                            f"?start={start}&end={end}").json())
        assert days.days and all(d.totals.tracked_s == 0 and d.hours for d in days.days)
    week = MemberDays.model_validate(get(server, alice, f"/api/v1/team/members/{alice.user_id}/days"
                                                        f"?start={today - timedelta(days=1)}"
                                                        f"&end={today + timedelta(days=6)}").json())
    assert len(week.days) == 8
    # Kiritimati's today (UTC+14) may be the UTC date's next day: at most its yesterday, today and tomorrow.
    assert asyncio.run(run_in_session(server.database_url, rows)) <= 3


def test_a_members_own_history_says_what_the_server_keeps(server: ServerProcess, berlin: Team) -> None:
    """Issue 15 review, item 7: a member reads no team answer, so the member routes carry ``retention`` too (the
    Me tab tells an old empty day from a day without work); inside a team answer it stays once, at the top."""
    alice = berlin.people[1]
    base = f"/api/v1/team/members/{alice.user_id}/days"
    kept = Retention(minutes_days=3650, keeps_day_totals=False)  # tests/support/servers.py's window
    assert MemberDays.model_validate(get(server, alice, f"{base}?start={SPRING}&end={SPRING}").json()).retention == kept
    assert MemberDay.model_validate(get(server, alice, f"{base}/{SPRING}").json()).retention == kept
    team = TeamDay.model_validate(get(server, berlin.people[0], f"/api/v1/team/days/{SPRING}").json())
    assert team.retention == kept and all(member.retention is None for member in team.members)
