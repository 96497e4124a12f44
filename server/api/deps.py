"""What route handlers receive: a database session, the caller, the clock, the hub and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal
from server.config import Settings
from server.limits import TokenBucket
from server.live import LiveHub


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# The small dependencies are ``async def`` although they wait for nothing: FastAPI runs a plain ``def``
# dependency in its thread pool: a thread hop per dependency per request, which py-spy showed in upload waves.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
NowDep = Annotated[datetime, Depends(get_now)]


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def get_principal(request: Request, now: NowDep, settings: SettingsDep, hub: HubDep) -> Principal:
    principal = await hub.auth.principal(bearer_token(request))
    # last_seen keeps a REST-only device present; a write per request would be waste, a few per grace do.
    # The hub writes it with its next coalesced presence pass, not in this request's transaction.
    seen = principal.device.last_seen
    if seen is None or (now - seen).total_seconds() >= settings.offline_grace_s / 4:
        hub.seen(principal.device.id, now)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def writer(request: Request, principal: PrincipalDep) -> Principal:
    """The caller, after charging one write to its device's rate budget."""
    bucket: TokenBucket = request.app.state.write_bucket
    bucket.take(principal.device.id)
    return principal


WriterDep = Annotated[Principal, Depends(writer)]
