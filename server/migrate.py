"""Brings a database to the newest schema with Alembic; ``serve`` calls it at start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.db import make_engine, make_sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as connection:
        await connection.run_sync(_run)


async def run_in_session(url: str, work: Callable[[AsyncSession, datetime], Awaitable[Any]]) -> Any:
    """Run ``work`` in one committed transaction on an up-to-date database: for admin tools and tests."""
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            result = await work(session, datetime.now(UTC))
            await session.commit()
            return result
    finally:
        await engine.dispose()
