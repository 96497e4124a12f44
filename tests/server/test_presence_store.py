"""The shown presence is stored with a compare-and-set: a process that read a stale row announces nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from protocol.schema import PresenceState as S
from server import admin
from server.migrate import run_in_session
from server.models import UserPresence
from server.presence import Change, Stored, insert_shown, store_changes


async def store_shown(session: Any, user_id: int, before: tuple[S, datetime] | None,
                      after: tuple[S, datetime]) -> bool:
    """One user's write as ``refresh`` makes it: ``after`` if the row still holds ``before`` (absent: no row)."""
    if before is None:
        return user_id in await insert_shown(session, {user_id: Stored(*after)})
    return user_id in await store_changes(session, {user_id: Change(Stored(*before), Stored(*after))})


def test_only_the_write_that_changes_the_row_counts(database_url: str) -> None:
    async def scenario(session: Any, now: datetime) -> list[bool]:
        team = f"team-{uuid.uuid4().hex[:8]}"
        await admin.create_team(session, name=team, now=now)
        user_id = (await admin.create_user(session, team=team, login=f"m@{team}.example", name="M", now=now))["id"]
        later = now + timedelta(seconds=5)
        return [
            await store_shown(session, user_id, None, (S.ACTIVE, now)),
            await store_shown(session, user_id, None, (S.ACTIVE, now)),  # a second "first" sighting
            await store_shown(session, user_id, (S.ACTIVE, now), (S.OFFLINE, later)),
            await store_shown(session, user_id, (S.ACTIVE, now), (S.OFFLINE, later)),  # the other sweeper
            await store_shown(session, user_id, (S.ACTIVE, now), (S.BREAK, later)),  # read before the change
        ]

    assert asyncio.run(run_in_session(database_url, scenario)) == [True, False, True, False, False]


def test_many_users_in_one_compare_and_set(database_url: str) -> None:
    """A storm's changes are stored in one statement; a row another process changed meanwhile is left alone."""
    async def scenario(session: Any, now: datetime) -> tuple[set[int], set[int], dict[int, str]]:
        team = f"team-{uuid.uuid4().hex[:8]}"
        await admin.create_team(session, name=team, now=now)
        ids = [(await admin.create_user(session, team=team, login=f"m{i}@{team}.example", name=f"M{i}",
                                        now=now))["id"] for i in range(3)]
        later = now + timedelta(seconds=5)
        await insert_shown(session, dict.fromkeys(ids, Stored(S.ACTIVE, now)))
        raced = await store_changes(session, {ids[2]: Change(Stored(S.ACTIVE, now), Stored(S.IDLE, later))})
        ours = await store_changes(session, {uid: Change(Stored(S.ACTIVE, now), Stored(S.BREAK, later)) for uid in ids})
        stored = await session.execute(select(UserPresence.user_id, UserPresence.state)
                                       .where(UserPresence.user_id.in_(ids)))
        return raced, ours, {uid: state for uid, state in stored}

    raced, ours, stored = asyncio.run(run_in_session(database_url, scenario))
    (first, second, third) = sorted(stored)
    assert raced == {third} and ours == {first, second}
    assert stored == {first: "break", second: "break", third: "idle"}
