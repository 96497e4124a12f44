"""The database's merge of a user's devices (``server.totals.merged_minutes`` for a day's minutes, ``summed``
for totals) equals the rule written out in Python here, minute by minute, as the oracle (``merge_minute``): per
minute the seconds of the most present device (the first of equals, in device order) and the counts of every
device.

Random minutes for users with one to three devices, many of them the same minute on several devices and
many ties, on SQLite and PostgreSQL; some users share a window, others have one of their own.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from protocol.schema import Slot
from server import admin, totals
from server.migrate import run_in_session
from server.models import ActivitySlot, Device
from server.totals import COUNTS, SECONDS, make_totals, merged_minutes, summed


def merge_minute(slots: list[Slot]) -> Slot:
    """The oracle: one user-minute from its device slots (in device order): seconds of the most present device,
    the first of equals, counts of all."""
    best = max(slots, key=lambda s: (s.active_s, s.break_s, s.tracked_s))
    if len(slots) == 1:
        return best
    return best.model_copy(update={name: sum(getattr(s, name) for s in slots) for name in COUNTS})


async def oracle_minutes(session: Any, windows: dict[int, tuple[datetime, datetime]]) -> dict[int, list[Slot]]:
    """Each user's minutes within the user's window, merged in Python from every stored device slot."""
    rows = await session.execute(select(ActivitySlot).order_by(ActivitySlot.start, ActivitySlot.device_id))
    grouped: dict[tuple[int, datetime], list[Slot]] = defaultdict(list)
    for row in rows.scalars():
        if row.user_id in windows and windows[row.user_id][0] <= row.start < windows[row.user_id][1]:
            grouped[(row.user_id, row.start)].append(
                Slot(start=row.start, **{name: getattr(row, name) for name in SECONDS + COUNTS}))
    minutes: dict[int, list[Slot]] = {uid: [] for uid in windows}
    for (user_id, _start), slots in grouped.items():
        minutes[user_id].append(merge_minute(slots))
    return minutes


def test_database_sums_match_the_python_merge(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(42)

    async def scenario(session: Any, now: datetime) -> None:
        team = f"team-{uuid.uuid4().hex[:8]}"
        await admin.create_team(session, name=team, now=now)
        base = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # a DST day in Europe: windows are not whole days
        windows: dict[int, tuple[datetime, datetime]] = {}
        shared = {1: (base + timedelta(minutes=10), base + timedelta(minutes=70)),
                  2: (base, base + timedelta(minutes=100))}
        for person in range(8):
            user_id = (await admin.create_user(session, team=team, login=f"u{person}@{team}.example",
                                               name=f"U{person}", now=now))["id"]
            devices = []
            for number in range(rng.randint(1, 3)):
                device = Device(user_id=user_id, name=f"d{number}", platform="linux", agent_version="t",
                                token_hash=uuid.uuid4().hex, created_at=now)
                session.add(device)
                await session.flush()
                devices.append(device.id)
            for minute in range(120):
                for device_id in devices:
                    if rng.random() < 0.6:
                        tracked = rng.choice([60, 60, 30])
                        active = rng.choice([0, tracked, tracked // 2])
                        brk = rng.choice([0, tracked - active])
                        session.add(ActivitySlot(
                            device_id=device_id, user_id=user_id, start=base + timedelta(minutes=minute),
                            tracked_s=tracked, active_s=active, idle_s=tracked - active - brk, break_s=brk,
                            input_s=rng.randint(0, active), keys=rng.randint(0, 50), clicks=rng.randint(0, 5),
                            scrolls=rng.randint(0, 3), mouse_px=rng.randint(0, 5000)))
            if person % 3:  # users sharing a window are summed in one query: two such groups, and loners
                windows[user_id] = shared[person % 3]
            else:
                start = base + timedelta(minutes=rng.randint(0, 30))
                windows[user_id] = (start, start + timedelta(minutes=rng.randint(30, 100)))
        nobody = (await admin.create_user(session, team=team, login=f"idle@{team}.example", name="I", now=now))["id"]
        windows[nobody] = (base, base + timedelta(hours=1))
        await session.flush()

        oracle = await oracle_minutes(session, windows)
        for uid, window in windows.items():
            assert await merged_minutes(session, uid, window) == oracle[uid]
        expected = {uid: make_totals(slots) for uid, slots in oracle.items()}
        assert await summed(session, windows) == expected
        monkeypatch.setattr(totals, "CHUNK", 2)  # a window's users over several queries
        assert await summed(session, windows) == expected
        assert expected[nobody] == make_totals(())
        assert sum(t.active_s for t in expected.values()) > 0, "the data has work in it"

    asyncio.run(run_in_session(database_url, scenario))
