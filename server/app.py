"""Builds the ASGI app: FastAPI for REST, python-socketio at ``/api/socket``, one lifespan for both."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import socketio
from fastapi import FastAPI
from starlette.types import ASGIApp

from server import __version__, security, server_settings
from server.announce import Announcer
from server.api.errors import install_handlers
from server.api.fast_path import PREFIX, FastPath
from server.api.routes import activity, enroll, health, history, me, presence, team
from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.gateway import SOCKET_PATH
from server.headers import SecurityHeaders
from server.ingest import Ingest
from server.limits import BodySizeLimit, EnrollmentLimit, TokenBucket
from server.live import LiveHub
from server.migrate import upgrade
from server.registry import make_registry
from server.retention import RetentionSweeper
from server.summariser import DaySummariser


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_api(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The REST API with everything it serves in ``app.state``; its lifespan migrates and runs the hub."""
    engine = make_engine(settings.database_url, busy_timeout_s=settings.db_busy_timeout_s)
    sessions = make_sessionmaker(engine)
    hub = LiveHub(settings, sessions, clock,
                  make_registry(settings.redis_url, sweep_interval_s=settings.sweep_interval_s))
    announcer = Announcer(sessions, hub.sio, clock, settings.sweep_interval_s)
    retention = RetentionSweeper(settings, sessions, clock)
    summariser = DaySummariser(settings, sessions, clock)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await upgrade(engine)
        # At start, not when the app is built: creating it is a write beside the database.
        async with sessions() as session:
            api.state.code_secret = await security.checked_code_secret(session, settings.database_url)
            await server_settings.record(session, settings.retention_days, clock())
            await session.commit()
        hub.start()
        announcer.start()
        retention.start()
        summariser.start()
        try:
            yield
        finally:
            await summariser.stop()
            await retention.stop()
            await announcer.stop()
            await hub.stop()
            await engine.dispose()

    # No /docs or /redoc (their pages load scripts from a CDN), /openapi.json only when asked for, and no
    # trailing-slash redirect: Starlette builds its Location from the Host header, which the client chooses.
    api = FastAPI(title="StaffPulse", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json" if settings.openapi else None, redirect_slashes=False)
    api.state.settings = settings
    api.state.sessions = sessions
    api.state.hub = hub
    api.state.ingest = Ingest(sessions)
    api.state.clock = clock
    api.state.write_bucket = TokenBucket(burst=settings.write_burst, rate=settings.write_rate_per_s)
    api.state.enrollment_limit = EnrollmentLimit(burst=settings.enroll_burst, rate=settings.enroll_rate_per_s)
    install_handlers(api)
    for module in (enroll, me, activity, presence, team, history):
        api.include_router(module.router, prefix=PREFIX)
    api.include_router(health.router)
    return api


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> ASGIApp:
    api = create_api(settings, clock=clock)
    rest = BodySizeLimit(FastPath(api), max_bytes=settings.max_body_bytes)
    live = socketio.ASGIApp(api.state.hub.sio, other_asgi_app=rest, socketio_path=SOCKET_PATH.lstrip("/"))
    return SecurityHeaders(live)
