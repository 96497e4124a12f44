"""Roster changes to tell a team's sockets: the ``roster`` socket event (a member joined, left, was renamed).

Clients read the team at connect only; without this a member created while a window is open never appears
in it. The roster changes in the admin CLI (``users create``, ``users rename``: another process, with no
sockets) and at enrollment (a deployment key that may add members). So, as with ``device-enrolled``, the
change is written in the transaction that makes it (``note``), and every server process's announce pass
(``server.announce.Announcer.announce_roster``) claims the unannounced rows and emits each to ``team:<id>``
within one sweep interval. Apart from that pass so the admin CLI loads neither pydantic nor the socket stack.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from protocol.roles import RosterChangeKind
from server.models import RosterChange, User

EVENT = "roster"


def note(session: AsyncSession, user: User, change: RosterChangeKind, now: datetime) -> None:
    """Record a change of ``user``'s place on the roster, to be announced once its transaction commits."""
    session.add(RosterChange(team_id=user.team_id, user_id=user.id, change=change, name=user.name, role=user.role,
                             at=now))
