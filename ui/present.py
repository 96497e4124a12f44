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
from protocol.text import count_of
from sync.live import LinkState, LiveStatus
from sync.uploader import SyncStatus

#: One colour per shown state, used for the tray icon, the table's dots and the legend.
STATE_COLOURS = {
    PresenceState.ACTIVE: "#2e9d47",
    PresenceState.IDLE: "#e0a800",
    PresenceState.BREAK: "#2f7fd6",
    PresenceState.PAUSED: "#7a5cc2",
    PresenceState.AWAY: "#8a8f98",
    PresenceState.OFFLINE: "#c8ccd2",
}
ERROR_COLOUR = "#d0342c"
#: No successful upload for this long while minutes wait: worth a notification, not only a red dot.
SYNC_STALLED_AFTER = timedelta(minutes=30)

LINK_WORDS = {LinkState.LIVE: "Live", LinkState.RECONNECTING: "Reconnecting", LinkState.OFFLINE: "Offline"}


class TrayLook(enum.StrEnum):
    """What the tray icon shows: the own state, or that the data is not getting through."""

    ACTIVE = "active"
    IDLE = "idle"
    BREAK = "break"
    PAUSED = "paused"  # the person paused tracking
    AWAY = "away"
    OFFLINE = "offline"  # not connected (or never enrolled): the team does not see this state
    ERROR = "error"  # the last upload failed or the server refused the device

    @property
    def colour(self) -> str:
        if self is TrayLook.ERROR:
            return ERROR_COLOUR
        return STATE_COLOURS[PresenceState(self.value)]


def tray_look(state: PresenceState, link: LinkState, *, sync_failed: bool, refused: bool) -> TrayLook:
    """Problems win over the state: a green dot must never suggest the team sees a state it does not. A pause
    wins over being offline: nothing is tracked while paused, and the person must not forget it."""
    if refused or sync_failed:
        return TrayLook.ERROR
    if state is PresenceState.PAUSED:
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


def sync_line(status: SyncStatus, link: LiveStatus, zone: tzinfo | None = None) -> str:
    """The Sync tab's result line and the tooltip's: the uploader's last result, unless the live connection
    has since lost the server and that result said nothing went wrong: then "up to date" would be a claim
    about a server that does not answer. The minutes waiting are kept either way."""
    if link.state is not LinkState.RECONNECTING or status.last_error is not None or status.needs_enrollment:
        return status.summary(zone)
    kept = f"; {count_of(status.pending, 'minute')} kept, sent when it answers" if status.pending else ""
    reached = (f"; last reached at {status.last_success.astimezone(zone):%H:%M}"
               if status.last_success is not None else "")
    return f"Waiting for the server{kept}{reached}"


def sync_error(status: SyncStatus, link: LiveStatus) -> str:
    """The Sync tab's "Last error": the uploader's, else the live connection's refusal, else that the server
    cannot be reached while the connection retries; "none" only when nothing is failing."""
    if status.last_error is not None:
        return status.last_error
    if link.refused is not None:
        return link.refused
    if link.state is LinkState.RECONNECTING:
        return "no connection to the server: retrying"
    return "none"


def waiting_line(pending: int, next_upload: int) -> str:
    """The Sync tab's "Waiting to send" beside the preview of the next upload: the count is every minute
    waiting, the preview only the next batch (a batch that failed is sent again as it was, before the newer
    minutes), so where they differ the line says both."""
    if pending == next_upload:
        return count_of(pending, "minute")
    return f"{count_of(pending, 'minute')}; the next upload, below, holds {next_upload}"


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
    """``just now``, ``5 min ago``, ``2 h ago``, ``1 day ago``, ``3 days ago``; ``never`` when unknown."""
    if moment is None:
        return "never"
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{count_of(int(seconds // 86400), 'day')} ago"


def last_seen(member: TeamMember, now: datetime) -> str:
    """The Team tab's "Last seen": ``now`` for a member the server shows present (a device connected or seen
    within the grace period), else how long ago a device of theirs was last seen. Not the age of the window's
    last read: ``last_seen`` of a present member is the moment of that read, which says nothing about them."""
    if member.state is not PresenceState.OFFLINE:
        return "now"
    return ago(member.last_seen, now)


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


class BreakWatch:
    """Which teammates started or ended a break, across the views the window receives (never the reader).

    A break is told by its start (``since``), not by a change of state between two views: after a server
    restart, or any spell in which a member showed offline, the same break comes back in the re-read team with
    the ``since`` it always had, and is not news. Going offline does not end a break (nobody knows yet); the
    next present state does. The first view only records: it shows states that began before the window did."""

    def __init__(self) -> None:
        self._known: set[int] | None = None  # None until the first view
        self._breaks: dict[int, datetime | None] = {}  # user → the ``since`` of the break last seen running

    def notices(self, members: Sequence[TeamMember], me: int | None) -> list[str]:
        known, self._known = self._known, {member.user_id for member in members}
        notices = []
        for member in members:
            told = member.user_id in self._breaks
            if member.state is PresenceState.BREAK:
                if not told or self._breaks[member.user_id] != member.since:
                    self._breaks[member.user_id] = member.since
                    if known is not None and member.user_id in known and member.user_id != me:
                        notices.append(f"{member.name} started a break")
            elif member.state is not PresenceState.OFFLINE and told:
                del self._breaks[member.user_id]
                if member.user_id != me:
                    notices.append(f"{member.name} ended their break")
        return notices


def payload_preview(slots: Sequence[Slot]) -> str:
    """The next upload as the server will receive it (``ActivityBatch``); its id is drawn when it is sent."""
    if not slots:
        return "Nothing is waiting to be sent."
    body = {"batch_id": "(assigned when sent)", "slots": [slot.model_dump(mode="json") for slot in slots]}
    return json.dumps(body, indent=2)
