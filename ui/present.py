"""Presentation rules without Qt: words for durations and times, the tray icon's look, per-hour buckets, and
which team changes deserve a notification. Plain functions, so tests run them without a display."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from agent.returning import IdleReturn
from protocol.schema import PresenceState, Slot, TeamMember
from sync.live import LinkState
from sync.uploader import SyncStatus

#: One colour per shown state, used for the tray icon, the table's dots and the legend.
STATE_COLOURS = {
    PresenceState.ACTIVE: "#2e9d47",
    PresenceState.IDLE: "#e0a800",
    PresenceState.BREAK: "#2f7fd6",
    PresenceState.AWAY: "#8a8f98",
    PresenceState.OFFLINE: "#c8ccd2",
}
ERROR_COLOUR = "#d0342c"
PAUSED_COLOUR = "#7a5cc2"
#: No successful upload for this long while minutes wait: worth a notification, not only a red dot.
SYNC_STALLED_AFTER = timedelta(minutes=30)

LINK_WORDS = {LinkState.LIVE: "Live", LinkState.RECONNECTING: "Reconnecting", LinkState.OFFLINE: "Offline"}


class TrayLook(enum.StrEnum):
    """What the tray icon shows: the own state, or that the data is not getting through."""

    ACTIVE = "active"
    IDLE = "idle"
    BREAK = "break"
    AWAY = "away"
    OFFLINE = "offline"  # not connected (or never enrolled): the team does not see this state
    ERROR = "error"  # the last upload failed or the server refused the device
    PAUSED = "paused"  # the person paused tracking (the team sees away)

    @property
    def colour(self) -> str:
        if self is TrayLook.ERROR:
            return ERROR_COLOUR
        if self is TrayLook.PAUSED:
            return PAUSED_COLOUR
        return STATE_COLOURS[PresenceState(self.value)]


def tray_look(state: PresenceState, link: LinkState, *, sync_failed: bool, refused: bool,
              paused: bool = False) -> TrayLook:
    """Problems win over the state: a green dot must never suggest the team sees a state it does not. A pause
    wins over being offline: nothing is tracked while paused, and the person must not forget it."""
    if refused or sync_failed:
        return TrayLook.ERROR
    if paused:
        return TrayLook.PAUSED
    if link is not LinkState.LIVE:
        return TrayLook.OFFLINE
    return TrayLook(state.value)


def sync_stalled(status: SyncStatus, started: datetime, now: datetime) -> bool:
    """Minutes wait and nothing got through for ``SYNC_STALLED_AFTER`` (counted from the start when nothing
    ever did): the team is not seeing this person's time, and a red dot alone is easy to miss."""
    if status.pending == 0:
        return False
    return now - (status.last_success or started) >= SYNC_STALLED_AFTER


def idle_question(spell: IdleReturn, now: datetime, zone: tzinfo | None = None) -> str:
    """``You were away from 10:02 to 10:41 (39 min). What was it?``"""
    return (f"You were away from {clock_time(spell.since, now, zone)} to {clock_time(spell.until, now, zone)} "
            f"({duration((spell.until - spell.since).total_seconds())}). What was it?")


def duration(seconds: float) -> str:
    """``0 min``, ``45 min``, ``3 h 05 min``: whole minutes, rounded down like the server's totals."""
    minutes = int(seconds) // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def percent(value: float) -> str:
    return f"{round(value)} %"


def clock_time(moment: datetime | None, now: datetime, zone: tzinfo | None = None) -> str:
    """``14:05`` today, ``Mon 14:05`` within a week, a date before that; ``—`` when unknown."""
    if moment is None:
        return "—"
    local, today = moment.astimezone(zone), now.astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if (today.date() - local.date()).days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d")


def ago(moment: datetime | None, now: datetime) -> str:
    """``just now``, ``5 min ago``, ``2 h ago``, ``3 days ago``; ``never`` when unknown."""
    if moment is None:
        return "never"
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def hourly_active(slots: Iterable[Slot], time_zone: str) -> list[tuple[int, int]]:
    """(active seconds, input seconds) per local hour of the day, 24 entries.

    Bucketed by the local wall-clock hour, so on a 25-hour DST day the repeated hour's minutes share a bar.
    """
    zone = ZoneInfo(time_zone)
    hours = [(0, 0)] * 24
    for slot in slots:
        hour = slot.start.astimezone(zone).hour
        active, typed = hours[hour]
        hours[hour] = (active + slot.active_s, typed + slot.input_s)
    return hours


def break_notices(before: Sequence[TeamMember], after: Sequence[TeamMember], me: int | None) -> list[str]:
    """Words for teammates who started or ended a break between two views (never for the reader)."""
    old = {member.user_id: member.state for member in before}
    notices = []
    for member in after:
        was = old.get(member.user_id)
        if member.user_id == me or was is None or was == member.state:
            continue
        if member.state is PresenceState.BREAK:
            notices.append(f"{member.name} started a break")
        elif was is PresenceState.BREAK:
            notices.append(f"{member.name} ended their break")
    return notices


def payload_preview(slots: Sequence[Slot]) -> str:
    """The next upload as the server will receive it (``ActivityBatch``); its id is drawn when it is sent."""
    if not slots:
        return "Nothing is waiting to be sent."
    body = {"batch_id": "(assigned when sent)", "slots": [slot.model_dump(mode="json") for slot in slots]}
    return json.dumps(body, indent=2)
