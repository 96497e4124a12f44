"""protocol.export: one row per member-day, local times in the member's zone, names never run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from protocol.export import COLUMNS, member_csv, safe_cell, team_csv
from protocol.schema import MemberDay, MemberDays, Retention, TeamDays, TeamPublic, Totals


def member(user_id: int, name: str, zone: str, *days: MemberDay) -> MemberDays:
    return MemberDays(user_id=user_id, name=name, time_zone=zone, days=list(days))


def day(user_id: int, name: str, zone: str, on: date, **totals: int) -> MemberDay:
    return MemberDay(user_id=user_id, name=name, date=on, time_zone=zone, totals=Totals(**totals))


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("name, shown", [
    ('=HYPERLINK("http://x")', """'=HYPERLINK("http://x")"""), ("+1", "'+1"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("Ana = Bo", "Ana = Bo"), ("O'Neil", "O'Neil"),
])
def test_formula_starts_are_quoted(name: str, shown: str) -> None:
    assert safe_cell(name) == shown
    [row] = rows(member_csv(member(1, name, "UTC", day(1, name, "UTC", date(2026, 1, 5)))))
    assert row["name"] == shown


def test_first_and_last_activity_are_in_the_members_zone() -> None:
    first, last = datetime(2026, 3, 29, 6, 30, tzinfo=UTC), datetime(2026, 3, 29, 15, 1, tzinfo=UTC)
    berlin = day(7, "Ana", "Europe/Berlin", date(2026, 3, 29), active_s=120, input_s=60, keys=9).model_copy(
        update={"first_activity": first, "last_activity": last, "totals": Totals(active_s=120, input_s=60, keys=9,
                                                                                 activity_pct=50.0)})
    [row] = rows(member_csv(member(7, "Ana", "Europe/Berlin", berlin)))
    assert list(row) == list(COLUMNS)
    assert row["first_activity"] == "2026-03-29T08:30:00+02:00"
    assert row["last_activity"] == "2026-03-29T17:01:00+02:00"
    assert (row["date"], row["user_id"], row["active_s"], row["activity_pct"], row["keys"]) == (
        "2026-03-29", "7", "120", "50.0", "9")


def test_a_team_is_one_row_per_member_day() -> None:
    days = TeamDays(team=TeamPublic(id=1, name="T"), start=date(2026, 1, 1), end=date(2026, 1, 2),
                    retention=Retention(minutes_days=30, keeps_day_totals=False), members=[
                        member(1, "A", "UTC", day(1, "A", "UTC", date(2026, 1, 1), tracked_s=60),
                               day(1, "A", "UTC", date(2026, 1, 2))),
                        member(2, "B", "Asia/Tokyo", day(2, "B", "Asia/Tokyo", date(2026, 1, 1)),
                               day(2, "B", "Asia/Tokyo", date(2026, 1, 2), tracked_s=5))])
    found = [(r["user_id"], r["date"], r["tracked_s"], r["first_activity"]) for r in rows(team_csv(days))]
    assert found == [("1", "2026-01-01", "60", ""), ("1", "2026-01-02", "0", ""), ("2", "2026-01-01", "0", ""),
                     ("2", "2026-01-02", "5", "")]
