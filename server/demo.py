"""The demo team the Quick start runs with: a manager, three members and an enrollment code for each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import admin
from server.models import Team

DEMO_TEAM = "Demo Team"
DEMO_USERS = [
    ("mia@demo.example", "Mia Manager", "manager", "Europe/Berlin"),
    ("sam@demo.example", "Sam Support", "member", "Europe/Berlin"),
    ("lee@demo.example", "Lee Logistics", "member", "America/New_York"),
    ("ana@demo.example", "Ana Accounts", "member", "Asia/Kolkata"),
]


async def seed(session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Create the demo team once; every call issues fresh enrollment codes (the old ones may be used)."""
    if await session.scalar(select(Team).where(Team.name == DEMO_TEAM)) is None:
        await admin.create_team(session, name=DEMO_TEAM, now=now, pause_allowed=True)
        for login, name, role, zone in DEMO_USERS:
            await admin.create_user(session, team=DEMO_TEAM, login=login, name=name, role=role, time_zone=zone,
                                    now=now)
    codes = [await admin.issue_code(session, login=login, now=now, valid_hours=24) for login, *_ in DEMO_USERS]
    key = await admin.create_key(session, team=DEMO_TEAM, name="demo deployment", now=now, allow_create=True)
    return {"team": DEMO_TEAM, "codes": codes, "deployment_key": key["key"]}
