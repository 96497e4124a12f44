from __future__ import annotations

from fastapi import APIRouter, status

from protocol.schema import Enrollment, EnrollmentResult
from server.api.deps import NowDep, SessionDep
from server.api.routes import errors
from server.enrollment import enroll

router = APIRouter()


@router.post("/enroll", status_code=status.HTTP_201_CREATED, responses=errors(400, 401, 403, 413, 422))
async def post_enroll(body: Enrollment, session: SessionDep, now: NowDep) -> EnrollmentResult:
    """Trade a personal code, or a deployment key plus OS login, for a device token (shown once)."""
    result = await enroll(session, body, now)
    await session.commit()
    return result
