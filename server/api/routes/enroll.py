from __future__ import annotations

from fastapi import APIRouter, Request, status

from protocol.schema import Enrollment, EnrollmentResult
from server.api.deps import NowDep, SessionDep
from server.api.routes import errors
from server.enrollment import enroll
from server.limits import EnrollmentLimit

router = APIRouter()


@router.post("/enroll", status_code=status.HTTP_201_CREATED, responses=errors(400, 401, 403, 413, 422, 429))
async def post_enroll(body: Enrollment, request: Request, session: SessionDep, now: NowDep) -> EnrollmentResult:
    """Trade a personal code, or a deployment key plus OS login, for a device token (shown once). A key's extra
    device for a login that already has one may answer ``status: pending`` (docs/security.md)."""
    limit: EnrollmentLimit = request.app.state.enrollment_limit
    # The peer uvicorn reports: behind a proxy, the client it forwards when ``serve --forwarded-allow-ips``
    # trusts that proxy, else the proxy itself.
    address = request.client.host if request.client else "unknown"
    limit.charge(address)
    result = await enroll(session, body, now, code_secret=request.app.state.code_secret,
                          key_failed=limit.key_failed)
    await session.commit()
    limit.succeeded(address)
    return result
