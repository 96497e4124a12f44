"""What the History tab shows, decided without Qt: the period picked, the sums, trends and empty states.

The tab shows one period, a day or an ISO week (Monday to Sunday), for one member or the whole team. The
server answers with ``MemberDay`` rows (``protocol.schema``): a day's rows come with per-hour profiles, a range's
without. Everything here turns those rows into words and numbers:

- ``Period``: the day or week, stepping back and forth, and the dates to ask for (a week is asked for together
  with the week before it, so the trends need no second request);
- sums of several days or members: ``protocol.history.sum_totals``, the server's rule (the activity % of the
  sums, never averaged from percentages);
- ``day_view`` / ``week_view``: the figures, bars and trend lines of one selection;
- ``empty_text``: what an empty period says, and what to do about it (a future day, nothing recorded, or minutes
  past the server's retention window, kept as day totals or deleted).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from protocol.history import sum_totals
from protocol.schema import MemberDay, MemberDays, Retention, Totals
from sync.errors import NotEnrolled, Refused, Transient
from ui.present import duration, percent

WEEK_DAYS = 7


class Span(enum.StrEnum):
    DAY = "Day"
    WEEK = "Week"


@dataclasses.dataclass(frozen=True)
class Period:
    """A day, or the ISO week (Monday to Sunday) holding ``start``; build with ``Period.of``."""

    span: Span
    start: date

    @classmethod
    def of(cls, span: Span, day: date) -> Period:
        return cls(span, day - timedelta(days=day.weekday()) if span is Span.WEEK else day)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=WEEK_DAYS - 1) if self.span is Span.WEEK else self.start

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def step(self, steps: int) -> Period:
        """The period ``steps`` days or weeks later (earlier when negative)."""
        return Period(self.span, self.start + timedelta(days=steps * (WEEK_DAYS if self.span is Span.WEEK else 1)))

    @property
    def asked(self) -> tuple[date, date]:
        """The dates to read: a week with the week before it (for the trends), a day alone."""
        return (self.step(-1).start, self.end) if self.span is Span.WEEK else (self.start, self.start)

    def title(self) -> str:
        if self.span is Span.DAY:
            return self.start.strftime("%A %d %B %Y")
        return f"Week of {self.start.strftime('%d %b')} – {self.end.strftime('%d %b %Y')}"


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label and the seconds active, on break and idle."""

    label: str
    active_s: int = 0
    break_s: int = 0
    idle_s: int = 0


@dataclasses.dataclass(frozen=True)
class DayView:
    totals: Totals
    first: str  # first activity, local clock time, "—" when none
    last: str
    hours: list[Bar]  # 24 local hours; empty when only day totals are kept


@dataclasses.dataclass(frozen=True)
class WeekView:
    totals: Totals
    previous: Totals
    days: list[Bar]  # one per day, Monday first
    trends: list[str]  # active, idle, break time and activity %: "31 h 20 min, +2 h 05 min vs previous week"


def day_view(days: Sequence[MemberDay]) -> DayView:
    """One member's day, or the team's (``days``: each member's row of the same date).

    Hours are bucketed by each member's own local wall-clock hour, so a team across zones shows when its people
    worked in their own day (on a DST day the repeated hour shares a bar). First and last activity are the
    earliest and latest of anyone, in the first member's zone (one zone per team in practice)."""
    hours = [[0, 0, 0] for _ in range(24)]
    for day in days:
        zone = ZoneInfo(day.time_zone)
        for hour in day.hours:
            bucket = hours[hour.start.astimezone(zone).hour]
            bucket[0] += hour.active_s
            bucket[1] += hour.break_s
            bucket[2] += hour.idle_s
    firsts = [d.first_activity for d in days if d.first_activity is not None]
    lasts = [d.last_activity for d in days if d.last_activity is not None]
    zone_name = days[0].time_zone if days else "UTC"
    has_hours = any(day.hours for day in days)
    return DayView(totals=sum_totals(d.totals for d in days), first=_clock(min(firsts, default=None), zone_name),
                   last=_clock(max(lasts, default=None), zone_name),
                   hours=[Bar(f"{h:02d}", *values) for h, values in enumerate(hours)] if has_hours else [])


def week_view(members: Sequence[MemberDays], period: Period) -> WeekView:
    """A week of one member or the team (``members``: their days over ``period.asked``), with the trends."""
    by_date: dict[date, list[Totals]] = {}
    for member in members:
        for day in member.days:
            by_date.setdefault(day.date, []).append(day.totals)
    this = [sum_totals(by_date.get(day, [])) for day in period.days]
    before = sum_totals(t for day in period.step(-1).days for t in by_date.get(day, []))
    totals = sum_totals(this)
    bars = [Bar(day.strftime("%a %d"), t.active_s, t.break_s, t.idle_s) for day, t in zip(period.days, this,
                                                                                          strict=True)]
    return WeekView(totals=totals, previous=before, days=bars, trends=trends(totals, before))


def trends(now: Totals, before: Totals) -> list[str]:
    """Each figure of the week (active, idle, break time, activity %) and its change since the week before."""
    lines = [f"{duration(getattr(now, name))}, {_change(getattr(now, name) - getattr(before, name))} vs "
             "previous week" for name in ("active_s", "idle_s", "break_s")]
    points = round(now.activity_pct - before.activity_pct)
    lines.append(f"{percent(now.activity_pct)}, {'+' if points >= 0 else '−'}{abs(points)} points vs previous week")
    return lines


def _change(seconds: int) -> str:
    """``+2 h 05 min``, ``−15 min``, ``no change``: a signed duration."""
    if abs(seconds) < 60:
        return "no change"
    return f"{'+' if seconds > 0 else '−'}{duration(abs(seconds))}"


def _clock(moment: datetime | None, time_zone: str) -> str:
    return "—" if moment is None else moment.astimezone(ZoneInfo(time_zone)).strftime("%H:%M")


def empty_text(days: Sequence[MemberDay], period: Period, today: date, retention: Retention | None) -> str | None:
    """What to say instead of (or above) the figures; None when the period has minutes to show.

    A period reaching back past the retention window (by date, when the answer says the window; or a day that
    comes without hours, ``MemberDay.hours`` empty, when only its totals are kept) says so: its totals, if the
    team keeps them, are still shown, with a note of what is missing and why."""
    if period.start > today:
        return "This period has not started yet: pick an earlier date."
    recorded = any(day.totals.tracked_s for day in days)
    totals_only = period.span is Span.DAY and bool(days) and not any(day.hours for day in days)
    cutoff = today - timedelta(days=retention.minutes_days) if retention is not None else None
    if totals_only or (cutoff is not None and period.start < cutoff):
        kept = _retention_words(retention)
        what = "day" if period.span is Span.DAY else "week"
        if not recorded:
            return f"Nothing is kept for this {what}: {kept}. Pick a more recent date."
        if period.span is Span.DAY:
            return f"Kept as day totals only: {kept}, so there is no hourly profile for this day."
        return f"{kept.capitalize()}: days before {cutoff:%d %b} show day totals at most."
    if not recorded:
        return ("No minutes recorded in this period. Pick another date, or check that StaffPulse was running "
                "and connected then.")
    return None


def _retention_words(retention: Retention | None) -> str:
    if retention is None:
        return "the server deletes minutes after its retention period"
    return f"minutes older than {retention.minutes_days} days are deleted"


WHOLE_TEAM = "Whole team"


Row = TypeVar("Row", MemberDay, MemberDays)


def pick(rows: Sequence[Row], user_id: int | None) -> list[Row]:
    """The rows of one member (``user_id``), or all of them for the whole team (None)."""
    return [row for row in rows if user_id is None or row.user_id == user_id]


def problem_words(error: BaseException) -> str:
    """A failed read or export in plain words: what happened and what to do (the detail goes to the log)."""
    if isinstance(error, NotEnrolled):
        return "This device is not enrolled, so there is no history to read: choose Settings… to enroll it."
    if isinstance(error, Transient):
        return "The server could not be reached, so the history could not be read. Try again when you are online."
    if isinstance(error, Refused):
        if error.code == "manager_only":
            return "Only the team's managers can read the team's history."
        if error.code == "not_found":
            return "That history is not available to you."
        return f"The server refused the request: {error.reason}"
    if isinstance(error, OSError):
        return f"The file could not be written ({error.strerror or error}). Pick another folder or name."
    return "Something went wrong; the details are in StaffPulse's log."
