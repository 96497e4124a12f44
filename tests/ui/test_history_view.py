"""The History tab's rules without Qt: periods, sums, trends, hourly buckets and the empty states' words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from protocol.history import sum_totals
from protocol.schema import HourProfile, MemberDay, MemberDays, Retention, Totals
from sync.errors import NotEnrolled, Refused, Transient
from ui import history_view as view
from ui.history_reads import range_problem
from ui.history_view import Period, Span

WEDNESDAY = date(2026, 11, 25)


def totals(active: int = 0, idle: int = 0, break_s: int = 0, input_s: int = 0) -> Totals:
    pct = round(100.0 * input_s / active, 1) if active else 0.0
    return Totals(tracked_s=active + idle + break_s, active_s=active, idle_s=idle, break_s=break_s,
                  input_s=input_s, activity_pct=pct)


def member_day(user_id: int, day: date, sums: Totals, *, zone: str = "UTC", hours: list[HourProfile] | None = None,
               first: datetime | None = None, last: datetime | None = None) -> MemberDay:
    return MemberDay(user_id=user_id, name=f"Person {user_id}", date=day, time_zone=zone, totals=sums,
                     first_activity=first, last_activity=last, hours=hours if hours is not None else [])


def test_a_week_runs_monday_to_sunday_and_steps_by_weeks() -> None:
    week = Period.of(Span.WEEK, WEDNESDAY)
    assert (week.start, week.end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert len(week.days) == 7 and week.days[0].weekday() == 0
    assert week.step(-1).start == date(2026, 11, 16) and week.step(1).start == date(2026, 11, 30)
    assert week.asked == (date(2026, 11, 16), date(2026, 11, 29)), "the week before comes along for the trends"
    day = Period.of(Span.DAY, WEDNESDAY)
    assert day.asked == (WEDNESDAY, WEDNESDAY) and day.step(-1).start == date(2026, 11, 24)
    assert day.title() == "Wednesday 25 November 2026"
    assert week.title() == "Week of 23 Nov – 29 Nov 2026"


def test_team_totals_recompute_the_activity_share_from_sums_not_averages() -> None:
    summed = sum_totals([totals(active=3600, input_s=3600), totals(active=600, input_s=0, idle=60)])
    assert (summed.active_s, summed.idle_s, summed.input_s) == (4200, 60, 3600)
    assert summed.activity_pct == 85.7, "(100 % + 0 %) / 2 would say 50 %"
    assert sum_totals([]) == totals()


def test_a_day_view_sums_members_per_local_hour_with_first_and_last() -> None:
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    one = member_day(1, WEDNESDAY, totals(active=1800, input_s=900), zone="Europe/Berlin",
                     hours=[HourProfile(start=start + timedelta(hours=h), active_s=600 * h) for h in range(3)],
                     first=start + timedelta(hours=1, minutes=5), last=start + timedelta(hours=2, minutes=40))
    two = member_day(2, WEDNESDAY, totals(active=600, break_s=300), zone="Europe/Berlin",
                     hours=[HourProfile(start=start, active_s=600, break_s=300)], first=start,
                     last=start + timedelta(minutes=20))
    shown = view.day_view([one, two])
    assert shown.totals.active_s == 2400 and shown.totals.break_s == 300
    assert (shown.first, shown.last) == ("09:00", "11:40"), "Berlin is UTC+1 in November"
    assert len(shown.hours) == 24
    assert (shown.hours[9].active_s, shown.hours[9].break_s) == (600, 300)
    assert [shown.hours[h].active_s for h in (10, 11)] == [600, 1200]
    assert view.day_view([member_day(1, WEDNESDAY, totals(active=60))]).hours == [], "day totals only: no hours"


def test_a_week_view_has_a_bar_per_day_and_trends_against_the_week_before() -> None:
    week = Period.of(Span.WEEK, WEDNESDAY)
    days = [member_day(1, day, totals(active=4 * 3600, input_s=2 * 3600)) for day in week.days[:5]]
    before = [member_day(1, day, totals(active=3 * 3600, input_s=3 * 3600, break_s=1800))
              for day in week.step(-1).days[:5]]
    shown = view.week_view([MemberDays(user_id=1, name="P", time_zone="UTC", days=before + days)], week)
    assert [bar.active_s for bar in shown.days] == [4 * 3600] * 5 + [0, 0]
    assert shown.days[0].label == "Mon 23"
    assert shown.trends == ["20 h 00 min, +5 h 00 min vs previous week",
                            "0 min, no change vs previous week",
                            "0 min, −2 h 30 min vs previous week",
                            "50 %, −50 points vs previous week"]


def test_empty_states_say_what_to_do() -> None:
    retention = Retention(minutes_days=30, keeps_day_totals=True)
    day = Period.of(Span.DAY, WEDNESDAY)
    hours = [HourProfile(start=datetime(2026, 11, 25, h, tzinfo=UTC)) for h in range(24)]
    nothing = member_day(1, WEDNESDAY, totals(), hours=hours)
    assert "No minutes recorded" in (view.empty_text([nothing], day, WEDNESDAY, retention) or "")
    assert "not started yet" in (view.empty_text([nothing], day.step(1), WEDNESDAY, retention) or "")
    folded = member_day(1, WEDNESDAY, totals(active=600))
    assert view.empty_text([folded], day, WEDNESDAY + timedelta(days=90), retention) == (
        "Kept as day totals only: minutes older than 30 days are deleted, so there is no hourly profile for this day.")
    gone = member_day(1, WEDNESDAY, totals())
    assert "Nothing is kept for this day: minutes older than 30 days are deleted" in (
        view.empty_text([gone], day, WEDNESDAY + timedelta(days=90), retention) or "")
    worked = member_day(1, WEDNESDAY, totals(active=600), hours=hours)
    assert view.empty_text([worked], day, WEDNESDAY, retention) is None
    deleted = member_day(1, WEDNESDAY, totals(), hours=hours)  # past the window by date, its minutes deleted
    assert view.empty_text([deleted], day, WEDNESDAY + timedelta(days=31), retention) == (
        "Nothing is kept for this day: minutes older than 30 days are deleted. Pick a more recent date.")
    assert view.empty_text([deleted], day, WEDNESDAY + timedelta(days=30), retention) == (
        "No minutes recorded in this period. Pick another date, or check that StaffPulse was running and "
        "connected then."), "the last day of the window still has its minutes"
    week = Period.of(Span.WEEK, WEDNESDAY)
    assert view.empty_text([worked], week, WEDNESDAY + timedelta(days=31), retention) == (
        "Minutes older than 30 days are deleted: days before 26 Nov show day totals at most.")
    assert view.empty_text([worked], week, WEDNESDAY, None) is None


def test_problems_in_plain_words() -> None:
    assert "could not be reached" in view.problem_words(Transient("cannot reach https://x: ConnectionError"))
    assert "Settings" in view.problem_words(NotEnrolled("no token"))
    assert "managers" in view.problem_words(Refused(403, "manager_only", "managers only"))
    assert "not available" in view.problem_words(Refused(404, "not_found", "no such user"))
    assert "could not be written" in view.problem_words(PermissionError(13, "Permission denied"))


def test_ranges_the_server_would_refuse_are_caught_before_asking() -> None:
    assert range_problem(WEDNESDAY, WEDNESDAY + timedelta(days=61)) is None
    assert "at most 62 days" in (range_problem(WEDNESDAY, WEDNESDAY + timedelta(days=62)) or "")
    assert "before the start" in (range_problem(WEDNESDAY, WEDNESDAY - timedelta(days=1)) or "")


def test_pick_one_member_or_the_whole_team() -> None:
    rows = [member_day(1, WEDNESDAY, totals()), member_day(2, WEDNESDAY, totals())]
    assert [row.user_id for row in view.pick(rows, None)] == [1, 2]
    assert [row.user_id for row in view.pick(rows, 2)] == [2]
