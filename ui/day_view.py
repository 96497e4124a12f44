"""Today, live: the rules behind the Team tab's dashboard and the Me tab's strip, without Qt.

A member's day is a strip of minutes from their local midnight (``MemberDay.timeline``: one ``MinuteMark`` per
minute, 1,380–1,500 of them on DST days). The strip is drawn as runs of one mark (``segments``) with a "now"
marker at the current minute of that member's day (``minute_index``). The server's timeline holds the minutes
uploaded so far, which trail the present by up to one upload interval, so the not yet uploaded tail since the
member's current state began is drawn in that live state (``follow_live``): between two reads of the team's day
the strip's present follows the presence events.

Who sees what: a manager reads every member's day (``GET /api/v1/team/days/{date}``) and totals; a member gets
no one else's numbers, so their table shows others' states only and their own strip, built from their own
minutes (``timeline_from_slots``, the same marks the server gives).

One time rule for the whole window: days and clock times are the account's (``UserPublic.time_zone``), since
the day totals the server sends are cut at the account's midnight; where that zone is not the PC's the window
says so (``zone_note``). Each member's own strip is cut at that member's midnight (``MemberDay.time_zone``).

The rows, their sort keys, the filter and the team's totals are plain functions of the members, so the tests run
them without a display (tests/ui/test_day_view.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from protocol.history import sum_totals
from protocol.schema import MemberDay, MinuteMark, PresenceState, Slot, TeamMember, Totals
from protocol.text import visible
from sync.live import TeamSnapshot
from ui import present

#: The mark a live state paints on the strip's not yet uploaded minutes; paused, away and offline count no
#: minutes (the agent records nothing while paused), so their minutes stay as the server has them: none.
LIVE_MARKS = {PresenceState.ACTIVE: MinuteMark.ACTIVE, PresenceState.BREAK: MinuteMark.BREAK,
              PresenceState.IDLE: MinuteMark.IDLE, PresenceState.PAUSED: MinuteMark.NONE,
              PresenceState.AWAY: MinuteMark.NONE, PresenceState.OFFLINE: MinuteMark.NONE}
#: The legend's words, and the state whose colour (``ui.theme``'s palette) paints each mark.
MARK_WORDS = {MinuteMark.ACTIVE: "Active", MinuteMark.IDLE: "Idle", MinuteMark.BREAK: "Break",
              MinuteMark.NONE: "Offline"}
MARK_STATES = {MinuteMark.ACTIVE: PresenceState.ACTIVE, MinuteMark.IDLE: PresenceState.IDLE,
               MinuteMark.BREAK: PresenceState.BREAK, MinuteMark.NONE: PresenceState.OFFLINE}
_TIE_ORDER = (MinuteMark.ACTIVE, MinuteMark.BREAK, MinuteMark.IDLE)  # ties go to the more present state


# --- the strip ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Segment:
    start: int  # minutes from local midnight
    length: int
    mark: MinuteMark


@dataclasses.dataclass(frozen=True)
class Strip:
    """What the timeline widget paints: the day's marks and where "now" is (None on another day)."""

    timeline: str
    now: int | None = None

    @functools.cached_property
    def segments(self) -> list[Segment]:
        """Worked out once per strip, not at every paint of its cell."""
        return segments(self.timeline)


def segments(timeline: str) -> list[Segment]:
    """Runs of one mark: what is painted as one rectangle (a day is a few dozen runs, not 1,440 minutes)."""
    runs: list[Segment] = []
    start = 0
    for index in range(1, len(timeline) + 1):
        if index == len(timeline) or timeline[index] != timeline[start]:
            runs.append(Segment(start, index - start, MinuteMark(timeline[start])))
            start = index
    return runs


def day_start(day: date, zone: str) -> datetime:
    """Local midnight of ``day`` in ``zone``, in UTC."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def day_minutes(day: date, zone: str) -> int:
    """1,440, or 1,380 / 1,500 on the days the clocks change."""
    return int((day_start(day + timedelta(days=1), zone) - day_start(day, zone)).total_seconds() // 60)


def minute_index(moment: datetime, day: date, zone: str) -> int | None:
    """The minute of ``day`` (from local midnight) that holds ``moment``; None outside that day."""
    index = int((moment - day_start(day, zone)).total_seconds() // 60)
    return index if 0 <= index < day_minutes(day, zone) else None


def minute_mark(slot: Slot) -> MinuteMark:
    """How the minute was mostly spent, ties to the more present state; a minute with nothing tracked is none."""
    if slot.tracked_s == 0:
        return MinuteMark.NONE
    spent = {MinuteMark.ACTIVE: slot.active_s, MinuteMark.BREAK: slot.break_s, MinuteMark.IDLE: slot.idle_s}
    return max(_TIE_ORDER, key=lambda mark: (spent[mark], -_TIE_ORDER.index(mark)))


def timeline_from_slots(slots: Iterable[Slot], day: date, zone: str) -> str:
    """The reader's own day as the server would draw it, from their own minutes (those of ``day`` only)."""
    marks = [MinuteMark.NONE.value] * day_minutes(day, zone)
    for slot in slots:
        index = minute_index(slot.start, day, zone)
        if index is not None:
            marks[index] = minute_mark(slot).value
    return "".join(marks)


def follow_live(timeline: str, now: int | None, state: PresenceState, since: int | None) -> str:
    """The strip with its not yet uploaded present in the live state: from ``now`` back over the minutes the
    server has none of, but not before the state began (``since``; the whole empty tail when it began before
    the day). Minutes the server has are never overwritten: they are what was measured."""
    if now is None or not timeline:
        return timeline
    mark = LIVE_MARKS[state].value
    marks = list(timeline)
    first = max(since or 0, 0)
    index = min(now, len(marks) - 1)
    while index >= first and marks[index] == MinuteMark.NONE.value:
        marks[index] = mark
        index -= 1
    return "".join(marks)


def strip_for(timeline: str | None, day: date, zone: str, state: PresenceState | None, since: datetime | None,
              now: datetime) -> Strip | None:
    """A member's strip for ``day`` in their ``zone``, its present following their live ``state`` (since
    ``since``); None without a timeline (a member's view of others, or a day past the retention window)."""
    if timeline is None:
        return None
    at = minute_index(now, day, zone)
    if state is None or since is None:
        return Strip(timeline, at)
    began = minute_index(since, day, zone)
    if began is None:  # began before this day (all of it so far), or is later than now (a clock apart)
        began = 0 if since < day_start(day, zone) else at
    return Strip(follow_live(timeline, at, state, began), at)


# --- words ----------------------------------------------------------------------------------------------------


def state_words(state: PresenceState, since: datetime | None, now: datetime) -> str:
    """``Break · 12 min``; the state alone when its start is not known."""
    if since is None:
        return state.value.capitalize()
    return f"{state.value.capitalize()} · {present.duration((now - since).total_seconds())}"


def as_of(updated: datetime, now: datetime, zone: tzinfo | None) -> str:
    """``as of 14:05``: when the shown team was last read, for a view that is not live."""
    return f"as of {present.clock_time(updated, now, zone)}"


def zone_note(account_zone: str, pc_zone: tzinfo | None, now: datetime) -> str | None:
    """``Times in Europe/Berlin`` where the account's zone runs another clock than the PC's (today); else None."""
    moment = now.astimezone(UTC)
    if moment.astimezone(ZoneInfo(account_zone)).utcoffset() == moment.astimezone(pc_zone).utcoffset():
        return None
    return f"Times in {account_zone}"


# --- the rows -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One member as the dashboard shows them; ``totals`` only for a manager's view (or the reader's own)."""

    user_id: int
    name: str  # as shown (``protocol.text.visible``)
    state: PresenceState
    since: datetime | None
    last_seen: datetime | None
    totals: Totals | None
    strip: Strip | None
    own: bool = False


def members_view(snapshot: TeamSnapshot) -> TeamSnapshot:
    """What a member's window may hold of the team, as the server sends a member ``/team``: everyone's state, no
    one's totals (their own are ``own_totals``). A manager demoted while the window is open was sent them, and
    the window must let go."""
    members = tuple(member if member.totals is None else member.model_copy(update={"totals": None})
                    for member in snapshot.members)
    return dataclasses.replace(snapshot, members=members)


def own_state(state: PresenceState, refused: bool) -> PresenceState:
    """The reader's own row after the server refused this device (revoked): the team no longer sees it, so it
    must not say Active, whatever the last read said."""
    return PresenceState.OFFLINE if refused else state


def rows(members: Sequence[TeamMember], *, me: int | None, days: dict[int, MemberDay], own_strip: Strip | None,
         own_totals: Totals | None, refused: bool, now: datetime) -> list[Row]:
    """The table's rows: each member with their strip from ``days`` (a manager's read of the team's day) and
    the reader's own from their own minutes, which are newer than any read."""
    shown = []
    for member in members:
        own = member.user_id == me
        state = own_state(member.state, refused) if own else member.state
        day = days.get(member.user_id)
        strip = own_strip if own else (strip_for(day.timeline, day.date, day.time_zone, state, member.since, now)
                                       if day else None)
        totals = member.totals or (own_totals if own else None)
        shown.append(Row(member.user_id, visible(member.name), state, member.since, member.last_seen, totals,
                         strip, own))
    return shown


def _active_share(strip: Strip | None) -> float:
    """For sorting by the strip: the share of the day so far spent active."""
    if strip is None or not strip.timeline:
        return -1.0
    upto = strip.timeline[: (strip.now or len(strip.timeline) - 1) + 1]
    return upto.count(MinuteMark.ACTIVE.value) / len(upto)


#: Sort keys per column name; ``None`` numbers (a member's view) sort first ascending.
SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "Name": lambda row: row.name.casefold(),
    "State": lambda row: (list(PresenceState).index(row.state), row.since or datetime.max.replace(tzinfo=UTC)),
    "Today": lambda row: _active_share(row.strip),
    "Last seen": lambda row: row.last_seen or datetime.min.replace(tzinfo=UTC),
    "Active today": lambda row: row.totals.active_s if row.totals else -1,
    "Activity": lambda row: row.totals.activity_pct if row.totals else -1.0,
    "Breaks": lambda row: row.totals.break_s if row.totals else -1,
}


def matches(row: Row, query: str) -> bool:
    """The search box: every word of ``query`` in the name or the state (``break`` lists who is on one)."""
    text = f"{row.name} {row.state.value}".casefold()
    return all(word in text for word in query.casefold().split())


def team_totals(shown: Iterable[Row]) -> tuple[int, Totals | None]:
    """How many rows, and their summed day; None when only the reader's own row has numbers (a member's view:
    the server sends members no one else's)."""
    listed = list(shown)
    if not any(row.totals is not None for row in listed if not row.own):
        return len(listed), None
    return len(listed), sum_totals(row.totals for row in listed if row.totals is not None)


def totals_line(count: int, totals: Totals | None) -> str:
    """``12 people · active 31 h 05 min · activity 54 % · breaks 2 h 10 min``."""
    people = f"{count} {'person' if count == 1 else 'people'}"
    if totals is None:
        return people
    return (f"{people} · active {present.duration(totals.active_s)} · activity {present.percent(totals.activity_pct)}"
            f" · breaks {present.duration(totals.break_s)}")
