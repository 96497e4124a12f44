"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from server.db import make_engine
from server.migrate import upgrade
from server.models import Base


def test_migrations_match_models(database_url: str) -> None:
    async def diff() -> list[object]:
        engine = make_engine(database_url)
        try:
            await upgrade(engine)
            await upgrade(engine)  # a second start is a no-op

            def compare(connection: Connection) -> list[object]:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
