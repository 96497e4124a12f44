"""A user's day is cut at local midnight in their IANA zone, DST days included (23 and 25 hours)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from server.totals import day_bounds, local_date
from support.servers import ServerProcess
from support.team import get, make_team, post_batch, slot


@pytest.mark.parametrize("day, zone, start, hours", [
    (date(2026, 3, 29), "Europe/Berlin", datetime(2026, 3, 28, 23, tzinfo=UTC), 23),
    (date(2026, 10, 25), "Europe/Berlin", datetime(2026, 10, 24, 22, tzinfo=UTC), 25),
    (date(2026, 11, 1), "America/New_York", datetime(2026, 11, 1, 4, tzinfo=UTC), 25),
    (date(2026, 6, 1), "Asia/Kolkata", datetime(2026, 5, 31, 18, 30, tzinfo=UTC), 24),
    (date(2026, 6, 1), "UTC", datetime(2026, 6, 1, tzinfo=UTC), 24),
])
def test_day_bounds(day: date, zone: str, start: datetime, hours: int) -> None:
    low, high = day_bounds(day, zone)
    assert low == start
    assert high - low == timedelta(hours=hours)
    assert local_date(low, zone) == day
    assert local_date(high - timedelta(minutes=1), zone) == day
    assert local_date(high, zone) == day + timedelta(days=1)


@pytest.mark.parametrize("day, edges", [
    ("2026-03-29", (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))),
    ("2026-10-25", (datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))),
])
def test_day_report_over_dst_change(server: ServerProcess, day: str, edges: tuple[datetime, datetime]) -> None:
    person = make_team(server, roles=["member"], time_zone="Europe/Berlin").people[0]
    start, end = edges
    minute = timedelta(minutes=1)
    slots = [slot(start - minute, keys=1), slot(start, keys=2), slot(end - minute, keys=4), slot(end, keys=8)]
    assert post_batch(server, person, slots).json() == {"accepted": 4, "duplicates": 0}
    report = get(server, person, f"/api/v1/me/days/{day}").json()
    assert report["time_zone"] == "Europe/Berlin"
    assert [s["keys"] for s in report["slots"]] == [2, 4]
    assert report["totals"]["keys"] == 6
    assert report["totals"]["tracked_s"] == 120


def test_bad_day_is_refused(server: ServerProcess) -> None:
    person = make_team(server, roles=["member"]).people[0]
    answer = get(server, person, "/api/v1/me/days/2026-02-30")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "path.day"
