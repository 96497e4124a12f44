"""Who is active, on break, idle, paused, away or offline — decided from every device of a user.

The pure part (``effective``) is what a test checks edge by edge: a user shows the most present state of
the devices that are connected or were seen within the grace period, among those that reported one (a device
that connected but has not reported counts as active only when none of them did); with none left, the user
is offline since the last moment any device was seen. ``refresh`` applies it to the database and returns the
``presence`` events to broadcast, only for users whose shown state actually changed.

A device's own report is held within bounds (``admit``, ``newer``): a ``since`` later than the server's clock
is stored as the server's now, one before the device was enrolled as its enrollment, and a later ``since``
wins over a higher ``seq``, so no report (``seq`` 2^63−1 included) can lock a device's later ones out.

Several server processes may refresh the same user at once (each sweeper, a REST call). The stored row is
changed with a compare-and-set, and only the process whose write changed it announces the change, so the
team hears of it once.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, column, or_, select, update, values
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import PRESENCE_RANK, PresenceEvent, PresenceState
from server import db
from server.models import Device, DevicePresence, User, UserPresence, UtcDateTime

#: Which of these devices hold a socket on any server process, and since when (``Registry.connected``).
ConnectedLookup = Callable[[Collection[int]], Awaitable[Mapping[int, datetime]]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceStatus:
    connected: bool
    last_seen: datetime | None
    state: PresenceState | None = None
    since: datetime | None = None
    #: When the device's socket connected, if it is connected.
    connected_since: datetime | None = None


@dataclasses.dataclass(frozen=True)
class Stored:
    """A user's presence as ``user_presence`` holds it: what the team was last told."""

    state: PresenceState
    since: datetime


@dataclasses.dataclass(frozen=True)
class Change:
    """A compare-and-set of one user's row: ``after`` is written only where the row still holds ``before``."""

    before: Stored
    after: Stored


@dataclasses.dataclass(frozen=True)
class _Member:
    """A user as ``refresh`` reads them: name and team for the event, and the stored presence (none yet)."""

    name: str
    team_id: int
    stored: Stored | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shown:
    state: PresenceState
    since: datetime | None
    last_seen: datetime | None
    #: ``since`` is a guess (a device that has not reported: since it connected or was last seen), not a
    #: reported moment; a guess that moves while the state stays is not news.
    since_estimated: bool = False


def effective(devices: Iterable[DeviceStatus], now: datetime, grace: timedelta) -> Shown:
    devices = list(devices)
    seen = [d.last_seen for d in devices if d.last_seen is not None]
    last_seen = now if any(d.connected for d in devices) else max(seen, default=None)
    present = [d for d in devices
               if d.connected or (d.last_seen is not None and now - d.last_seen <= grace)]
    if not present:
        return Shown(state=PresenceState.OFFLINE, since=last_seen, last_seen=last_seen)

    def reported(d: DeviceStatus) -> Shown:
        # A device that connected but has not reported yet counts as active since it connected, else since it
        # was last seen: an estimate, flagged so.
        if d.state is not None:
            return Shown(state=d.state, since=d.since, last_seen=last_seen)
        return Shown(state=PresenceState.ACTIVE, since=d.connected_since or d.last_seen, last_seen=last_seen,
                     since_estimated=True)

    # The most present reported state wins. A device that has not reported says nothing of what the person does
    # (a second PC just switched on): it counts only while no present device of the user has reported, else it
    # would show a person on break, idle or away as active until its first report.
    shown = [reported(d) for d in present]
    return min([s for s in shown if not s.since_estimated] or shown, key=lambda s: PRESENCE_RANK[s.state])


async def shown_for(session: AsyncSession, user_ids: Collection[int], connected: ConnectedLookup,
                    now: datetime, grace: timedelta) -> dict[int, Shown]:
    """The presence to show for each user, from their devices that are not revoked."""
    rows = (await session.execute(
        select(Device.id, Device.user_id, Device.last_seen, DevicePresence.state, DevicePresence.since)
        .outerjoin(DevicePresence, DevicePresence.device_id == Device.id)
        .where(Device.user_id.in_(list(user_ids)), Device.revoked_at.is_(None))
    )).all()
    live = await connected([row[0] for row in rows])
    by_user: dict[int, list[DeviceStatus]] = defaultdict(list)
    for device_id, user_id, last_seen, state, since in rows:
        by_user[user_id].append(DeviceStatus(
            connected=device_id in live, last_seen=last_seen, connected_since=live.get(device_id),
            state=PresenceState(state) if state else None, since=since))
    return {uid: effective(by_user[uid], now, grace) for uid in user_ids}


async def store_changes(session: AsyncSession, changes: Mapping[int, Change]) -> set[int]:
    """Compare-and-set the rows of several users (``user id → change``) in one statement; the users whose row
    this call changed. ``UPDATE … FROM (VALUES …) RETURNING``: a storm of changes is one round trip, not one per
    user, and a row another process changed since it was read is left alone and not returned."""
    if not changes:
        return set()
    wanted = values(column("uid", Integer), column("old_state", String), column("old_since", UtcDateTime),
                    column("new_state", String), column("new_since", UtcDateTime), name="wanted").data(
        [(uid, str(change.before.state), change.before.since, str(change.after.state), change.after.since)
         for uid, change in sorted(changes.items())]).cte("wanted")
    result = await session.execute(
        update(UserPresence)
        .where(UserPresence.user_id == wanted.c.uid, UserPresence.state == wanted.c.old_state,
               UserPresence.since == wanted.c.old_since)
        .values(state=wanted.c.new_state, since=wanted.c.new_since)
        .returning(UserPresence.user_id),
        execution_options={"synchronize_session": False})
    return set(result.scalars())


@dataclasses.dataclass(frozen=True)
class Reported:
    """A device's reported state: what a presence PUT asks to store, or what the device holds."""

    device_id: int
    state: str
    since: datetime
    seq: int


def admit(device: Device, state: str, since: datetime, seq: int, *, now: datetime) -> Reported:
    """The report a device's presence PUT asks to store, its ``since`` kept between the device's enrollment and
    the server's clock. A state beginning in the future would show "active since 9999" and, as the newest
    ``since``, win over every true report until then; one an agent with a fast clock sends is true but early,
    so it is shown from now rather than refused (refused, the team would see the person's old state). A
    ``since`` before the device was enrolled is stored as the enrollment moment: the agent backdates idle to
    the last input the OS knows of, which may predate the agent, but the server vouches for nothing before the
    device existed.
    """
    return Reported(device.id, state, min(max(since, device.created_at), now), seq)


def newer(report: Reported, current: Reported) -> bool:
    """Whether ``report`` supersedes what the device holds: a higher ``seq``, or a later ``since``.

    The agent's ``seq`` grows with its ``since``, so a late retry of an older report loses on both. A later
    ``since`` winning over ``seq`` means a device that once claimed ``seq`` 2^63−1 (or an agent that lost its
    checkpoint and counts from 1 again) is only held back until its next state begins after the stored one,
    which is never later than the server's clock when it was stored (``admit``), instead of forever.
    """
    return report.seq > current.seq or report.since > current.since


def settle(stored: Mapping[int, Reported], reports: Sequence[Reported]) -> tuple[list[tuple[bool, Reported]],
                                                                               dict[int, Reported]]:
    """Reports of one pass, in arrival order, as if stored one by one: each is applied when it is ``newer``
    than its device's latest, and answered with whether it was and what the device holds after it. Also
    returns the rows to write: each changed device's last applied report."""
    latest = dict(stored)
    changed: dict[int, Reported] = {}
    answers: list[tuple[bool, Reported]] = []
    for report in reports:
        current = latest.get(report.device_id)
        if current is None or newer(report, current):
            latest[report.device_id] = changed[report.device_id] = report
            answers.append((True, report))
        else:
            answers.append((False, current))
    return answers, changed


async def _reported(session: AsyncSession, device_ids: Collection[int]) -> dict[int, Reported]:
    rows = await session.execute(select(DevicePresence.device_id, DevicePresence.state, DevicePresence.since,
                                        DevicePresence.seq).where(DevicePresence.device_id.in_(list(device_ids))))
    return {device_id: Reported(device_id, state, since, seq) for device_id, state, since, seq in rows}


async def store_reports(session: AsyncSession, reports: Sequence[Reported]) -> list[tuple[bool, Reported]]:
    """Store a pass's presence reports (``settle``'s answers, in order) in two statements however many: read
    the devices' rows, then one upsert that writes only a ``newer`` report. A device whose row another process
    made newer between the two is answered as if its reports came after that one: not applied."""
    if not reports:
        return []
    answers, changed = settle(await _reported(session, {r.device_id for r in reports}), reports)
    if not changed:
        return answers
    insert = db.insert(session, DevicePresence).values([dataclasses.asdict(row) for _, row in sorted(changed.items())])
    written = set((await session.execute(insert.on_conflict_do_update(
        index_elements=[DevicePresence.device_id],
        set_={"state": insert.excluded.state, "since": insert.excluded.since, "seq": insert.excluded.seq},
        where=or_(insert.excluded.seq > DevicePresence.seq, insert.excluded.since > DevicePresence.since),  # newer
    ).returning(DevicePresence.device_id))).scalars())
    if lost := set(changed) - written:
        newer = await _reported(session, lost)
        answers = [(False, newer[report.device_id]) if report.device_id in lost else answer
                   for report, answer in zip(reports, answers, strict=True)]
    return answers


async def store_last_seen(session: AsyncSession, seen: Mapping[int, datetime]) -> None:
    """Write devices' last-seen moments (``device id → moment``) in one ``UPDATE … FROM (VALUES …)``: the ORM's
    bulk update by primary key built parameters row by row, about a sixth of the server's py-spy samples in a
    5,000-agent reconnect storm. Rows go in id order, the same for every process, so two writers cannot
    deadlock."""
    if not seen:
        return
    moments = values(column("did", Integer), column("moment", UtcDateTime), name="moments").data(
        sorted(seen.items())).cte("moments")
    await session.execute(update(Device).where(Device.id == moments.c.did).values(last_seen=moments.c.moment),
                          execution_options={"synchronize_session": False})


async def insert_shown(session: AsyncSession, rows: Mapping[int, Stored]) -> set[int]:
    """First rows for users never shown before, in one statement; the users whose row this call created (a
    racing process may have created some first)."""
    if not rows:
        return set()
    statement = db.insert(session, UserPresence).on_conflict_do_nothing().returning(UserPresence.user_id)
    created = await session.execute(statement, [{"user_id": uid, "state": row.state, "since": row.since}
                                                for uid, row in rows.items()])
    return set(created.scalars())


async def refresh(session: AsyncSession, user_ids: Collection[int], connected: ConnectedLookup,
                  now: datetime, grace: timedelta) -> list[tuple[int, PresenceEvent]]:
    """Store each user's shown presence; return ``(team_id, event)`` for those this call changed.

    The caller commits, then broadcasts — so nobody hears of a state the database does not hold. Users shown
    for the first time are inserted in one statement, changes compare-and-set in another.
    """
    if not user_ids:
        return []
    shown = await shown_for(session, user_ids, connected, now, grace)
    members: dict[int, _Member] = {}
    for uid, name, team_id, state, since in await session.execute(
            select(User.id, User.name, User.team_id, UserPresence.state, UserPresence.since)
            .outerjoin(UserPresence, UserPresence.user_id == User.id).where(User.id.in_(list(user_ids)))):
        # state is NULL where the outer join found no row
        members[uid] = _Member(name, team_id, None if state is None else Stored(PresenceState(state), since))
    first: dict[int, Stored] = {}
    changes: dict[int, Change] = {}
    afters = {uid: Stored(now_shown.state, now_shown.since or now) for uid, now_shown in shown.items()}
    for uid, now_shown in sorted(shown.items()):  # one row order for every writer: no deadlocks between them
        after, before = afters[uid], members[uid].stored
        if before is None:
            if now_shown.state is not PresenceState.OFFLINE:  # never seen and offline: nothing to announce
                first[uid] = after
            continue
        if before.state == after.state and (before.since == after.since or now_shown.since_estimated):
            continue  # unchanged, or only an estimated "since" moved (last_seen refreshed by a sweep)
        changes[uid] = Change(before, after)
    # A user missing from what was stored: another process stored (and announces) a newer state first.
    changed = await store_changes(session, changes) | await insert_shown(session, first)
    return [(members[uid].team_id, PresenceEvent(user_id=uid, name=members[uid].name, state=afters[uid].state,
                                                 since=afters[uid].since, last_seen=shown[uid].last_seen))
            for uid in sorted(changed)]
