"""The shown presence is stored with a compare-and-set: a process that read a stale row announces nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from protocol.schema import PresenceState as S
from server import admin
from server.migrate import run_in_session
from server.presence import store_shown


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
