"""``server.totals.summed`` (totals added up by the database) equals the Python rule it replaces for live
updates and the team view: ``make_totals`` over ``user_minutes``, i.e. per minute the seconds of the most
present device (the first of equals) and the counts of every device.

Random minutes for users with one to three devices, many of them the same minute on several devices and
many ties, on SQLite and PostgreSQL; some users share a window, others have one of their own.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server import admin, totals
from server.migrate import run_in_session
from server.models import ActivitySlot, Device
from server.totals import make_totals, summed, user_minutes


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

        expected = {uid: make_totals(slots) for uid, slots in (await user_minutes(session, windows)).items()}
        assert await summed(session, windows) == expected
        monkeypatch.setattr(totals, "CHUNK", 2)  # a window's users over several queries
        assert await summed(session, windows) == expected
        assert expected[nobody] == make_totals(())
        assert sum(t.active_s for t in expected.values()) > 0, "the data has work in it"

    asyncio.run(run_in_session(database_url, scenario))
