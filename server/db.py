"""Async engine and session factory for SQLite (default) or PostgreSQL (``postgresql+asyncpg://``)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def async_driver_url(url: str) -> str:
    """Accept the plain driver-less URLs people type and pick the async driver we ship."""
    for plain, async_ in (("sqlite://", "sqlite+aiosqlite://"), ("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return async_ + url[len(plain):]
    return url


def make_engine(url: str, *, busy_timeout_s: float = 30.0) -> AsyncEngine:
    url = async_driver_url(url)
    if url.startswith("sqlite"):
        _private_sqlite_file(make_url(url).database)
        # One connection: SQLite has one writer anyway, and writers queueing in this process (in order, for
        # the pool's timeout) beat writers spinning in SQLite's busy handler (measured in docs/scaling.md).
        # A read waits behind a write too, but every transaction here is a few statements long.
        engine = create_async_engine(url, connect_args={"timeout": busy_timeout_s}, pool_size=1, max_overflow=0,
                                     pool_timeout=busy_timeout_s)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; busy_timeout waits instead of failing on a lock.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _private_sqlite_file(database: str | None) -> None:
    """Create the database file owner-only (0600) on Linux and macOS before SQLite does (it would use the
    umask, 0644 by default): it holds every user's activity and the token hashes. SQLite creates its -wal, -shm
    and -journal files with the database's mode; those an older server left are fixed too. A folder that does
    not exist is left for SQLite to report."""
    if sys.platform == "win32" or not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    with contextlib.suppress(FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                path.with_name(path.name + suffix).chmod(0o600)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` on ``table`` with ``ON CONFLICT`` clauses, built for the session's database: both speak
    that syntax, but SQLAlchemy offers it per dialect. Each is imported here, once the session says which:
    loading PostgreSQL's dialect for a SQLite database costs an admin command ~0.2 s (docs/server.md)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
