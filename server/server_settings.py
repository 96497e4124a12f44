"""The settings of the running server that other processes read: its retention window (``ServerSetting``).

``staffpulse-server report`` runs beside the server with its own flags; with a separate ``--retention-days``
defaulting to 30 it answered days the server (run with another window) shows differently, and said another
window in its JSON. So ``serve`` records its ``--retention-days`` at start, and ``report`` uses that unless
given the flag. Several processes on one database should run with one window; the one started last is recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import ServerSetting

#: The one row's id.
ROW = 1


async def record(session: AsyncSession, retention_days: int, now: datetime) -> None:
    """Store the window this server runs with (in the caller's transaction)."""
    row = await session.get(ServerSetting, ROW)
    if row is None:
        session.add(ServerSetting(id=ROW, retention_days=retention_days, recorded_at=now))
    else:
        row.retention_days, row.recorded_at = retention_days, now


async def retention_days(session: AsyncSession) -> int | None:
    """The window the server last started with; None if no server started since migration 0007."""
    row = await session.get(ServerSetting, ROW)
    return None if row is None else row.retention_days
