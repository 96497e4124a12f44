"""``/healthz`` says "degraded" when the database does not answer, and logs why, a line a minute at most."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.api.routes import health
from server.app import create_api
from server.config import Settings
from server.throttled_log import ThrottledLog
from support.asgi import call

WHAT = "health check: the database did not answer"


def test_a_flood_of_failed_checks_is_one_line_then_one_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("test.throttled"), every_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        for second in (0, 1, 2, 59.9, 60, 61, 200):
            now[0] = second
            throttled.warning("down: %s", "why")
    assert [r.getMessage() for r in caplog.records] == [
        "down: why", "down: why (and 3 more like it since the last such line)",
        "down: why (and 1 more like it since the last such line)"]


def test_a_database_that_does_not_answer_is_logged_once_not_per_probe(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's one pooled connection held elsewhere: every probe waits the pool's timeout and fails
    (``sqlalchemy.exc.TimeoutError``), as when a long write holds the database."""
    api = create_api(Settings(database_url=f"sqlite:///{tmp_path / 'server.db'}", db_busy_timeout_s=0.05))
    engine: AsyncEngine = api.state.sessions.kw["bind"]
    # A fresh throttle: this process's earlier checks are not this test's.
    monkeypatch.setattr(health, "FAILURES", ThrottledLog(health.log, every_s=60))

    async def scenario() -> list[object]:
        async with api.router.lifespan_context(api):
            async with engine.connect() as held:
                await held.exec_driver_sql("SELECT 1")
                down = [await call(api, ("GET", "/healthz"), {}, [b""]) for _ in range(20)]
            up = await call(api, ("GET", "/healthz"), {}, [b""])
        return [*(body for _, _, body in down), up[2]]

    with caplog.at_level(logging.WARNING, logger=health.log.name):
        *down, up = asyncio.run(scenario())
    assert down == [{"status": "degraded", "database": False}] * 20
    assert up == {"status": "ok", "database": True}
    lines = [r.getMessage() for r in caplog.records if r.name == health.log.name]
    assert len(lines) == 1 and lines[0].startswith(WHAT), lines
    assert "QueuePool limit" in lines[0], "the line says why"
