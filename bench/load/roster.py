"""Who the simulated agents are: teams of 50 (one manager each), seeded in one transaction.

Enrolling 5,000 devices over REST would take longer than the measurement itself, so the bench writes the
rows directly, with tokens it makes and stores the way enrollment does (only their digest). The Node reference
has no database: it reads the same roster from a JSON file.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import Role
from server import security
from server.migrate import run_in_session
from server.models import Device, Team, User

TEAM_SIZE = 50


@dataclasses.dataclass(frozen=True)
class Agent:
    index: int
    user_id: int
    team_id: int
    device_id: int
    token: str
    role: str


#: How long ago the seeded devices count as enrolled: the server refuses minutes from before a device's
#: enrollment, and the swarm uploads the past hours.
ENROLLED_AGO = timedelta(days=7)


def _plan(agents: int, team_size: int) -> list[tuple[int, str]]:
    """(team number, role) per agent: the first of every team is its manager."""
    return [(i // team_size, Role.MANAGER if i % team_size == 0 else Role.MEMBER) for i in range(agents)]


async def _seed(session: AsyncSession, now: datetime, agents: int, team_size: int) -> list[Agent]:
    run = uuid.uuid4().hex[:8]
    plan = _plan(agents, team_size)
    team_names = [f"load-{run}-{t:04d}" for t in range(plan[-1][0] + 1)]
    await session.execute(insert(Team), [{"name": n, "created_at": now} for n in team_names])
    team_ids = dict((await session.execute(select(Team.name, Team.id).where(Team.name.in_(team_names)))).all())
    logins = [f"agent{i}@{run}.load.example" for i in range(agents)]
    await session.execute(insert(User), [
        {"team_id": team_ids[team_names[t]], "name": f"Agent {i}", "login": logins[i], "role": role,
         "time_zone": "UTC", "created_at": now} for i, (t, role) in enumerate(plan)])
    users = dict((await session.execute(select(User.login, User.id).where(User.login.in_(logins)))).all())
    tokens = [security.new_token() for _ in range(agents)]
    await session.execute(insert(Device), [
        {"user_id": users[logins[i]], "name": f"load-{i}", "platform": "linux", "agent_version": "bench",
         "token_hash": security.digest(tokens[i]), "created_at": now - ENROLLED_AGO,
         "announced_at": now - ENROLLED_AGO} for i in range(agents)])  # or the first pass announces them all
    hashes = [security.digest(t) for t in tokens]
    devices = dict((await session.execute(select(Device.token_hash, Device.id)
                                          .where(Device.token_hash.in_(hashes)))).all())
    return [Agent(i, users[logins[i]], team_ids[team_names[t]], devices[hashes[i]], tokens[i], role)
            for i, (t, role) in enumerate(plan)]


async def seed_database(database_url: str, agents: int, *, team_size: int = TEAM_SIZE) -> list[Agent]:
    """Create ``agents`` users with one device each, in teams of ``team_size``, in one transaction."""
    if agents < 2:
        raise ValueError("agents: at least 2, so a team has someone to tell")
    result: list[Agent] = await run_in_session(database_url, lambda s, now: _seed(s, now, agents, team_size))
    return result


def synthetic(agents: int, *, team_size: int = TEAM_SIZE) -> list[Agent]:
    """The same shape for a server without a database (the Node reference): ids count from 1."""
    return [Agent(i, i + 1, t + 1, i + 1, security.new_token(), role)
            for i, (t, role) in enumerate(_plan(agents, team_size))]


def write_roster(agents: list[Agent], path: Path) -> None:
    """The Node reference's roster: token → who, as its ``auth`` lookup needs."""
    roster: dict[str, dict[str, Any]] = {
        a.token: {"user_id": a.user_id, "team_id": a.team_id, "device_id": a.device_id, "role": a.role,
                  "name": f"Agent {a.index}"} for a in agents}
    path.write_text(json.dumps(roster))
