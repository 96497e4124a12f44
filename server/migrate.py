"""Brings a database to the newest schema with Alembic; ``serve`` calls it at start, every admin command too.

Alembic is imported only where a migration runs: it costs an admin command more than everything else it loads,
and ``run_in_session`` skips it when the database is already at the head (``server.schema_version``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.db import make_engine, make_sessionmaker
from server.schema_version import MIGRATIONS, is_current

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    def _run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as connection:
        await connection.run_sync(_run)


async def upgrade_if_behind(engine: AsyncEngine) -> None:
    """``upgrade``, unless the database is already at the head, which is found without importing Alembic."""
    async with engine.connect() as connection:
        current = await connection.run_sync(is_current)
    if not current:
        await upgrade(engine)


async def run_in_session(url: str, work: Callable[[AsyncSession, datetime], Awaitable[Any]]) -> Any:
    """Run ``work`` in one committed transaction on an up-to-date database: for admin tools and tests."""
    engine = make_engine(url)
    try:
        await upgrade_if_behind(engine)
        async with make_sessionmaker(engine)() as session:
            result = await work(session, datetime.now(UTC))
            await session.commit()
            return result
    finally:
        await engine.dispose()
