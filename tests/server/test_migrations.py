"""The Alembic migrations build exactly the schema the models describe, on both databases, and carry data over."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from server.db import make_engine
from server.migrate import alembic_config, upgrade
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


def test_0002_keeps_devices_active_and_drops_unused_codes(database_url: str) -> None:
    """Devices from before 0002 stay active as ``legacy``, already announced; unused codes (stored as plain
    SHA-256, which no longer matches) are deleted, used ones kept as history. Down to 0001 and up again."""
    async def run() -> tuple[list[Any], list[Any], list[Any]]:
        engine = make_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
                # Empty whatever an earlier test of this module left, so the rows below are the only ones.
                for table in ("activity_slots", "batches", "device_presence", "user_presence", "user_days",
                              "roster_changes", "enrollment_codes", "devices", "deployment_keys", "users", "teams"):
                    await connection.execute(text(f"DELETE FROM {table}"))
                await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
                await connection.execute(text(
                    "INSERT INTO teams (id, name, idle_threshold_s, sync_interval_s, pause_allowed, created_at) "
                    "VALUES (1, 't', 300, 300, false, '2026-01-01 00:00:00')"))
                await connection.execute(text(
                    "INSERT INTO users (id, team_id, name, login, role, time_zone, created_at) "
                    "VALUES (1, 1, 'A', 'a', 'member', 'UTC', '2026-01-01 00:00:00')"))
                await connection.execute(text(
                    "INSERT INTO devices (id, user_id, name, platform, agent_version, token_hash, created_at) "
                    "VALUES (1, 1, 'pc', 'linux', '1', 'ab', '2026-01-02 00:00:00')"))
                await connection.execute(text(
                    "INSERT INTO enrollment_codes (id, user_id, code_hash, expires_at, used_at) VALUES "
                    "(1, 1, 'used', '2027-01-01 00:00:00', '2026-01-02 00:00:00'), "
                    "(2, 1, 'unused', '2027-01-01 00:00:00', NULL)"))
            await upgrade(engine)
            async with engine.connect() as connection:
                devices = list(await connection.execute(text(
                    "SELECT pending, enrolled_via, deployment_key_id, announced_at, created_at FROM devices")))
                codes = list(await connection.execute(text("SELECT code_hash FROM enrollment_codes")))
                teams = list(await connection.execute(text("SELECT key_adds_devices, keep_day_totals FROM teams")))
            return devices, codes, teams
        finally:
            await engine.dispose()

    devices, codes, teams = asyncio.run(run())
    [(pending, via, key_id, announced, created)] = devices
    assert (bool(pending), via, key_id) == (False, "legacy", None)
    assert announced == created
    assert [row[0] for row in codes] == ["used"]
    assert [(bool(adds), bool(keeps)) for adds, keeps in teams] == [(False, False)], "0003 keeps no day totals"
