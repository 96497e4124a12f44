"""The server's one exception tree, and how it becomes the protocol's error body.

    ApiError                  (any refusal the client should read: status + code + message [+ field])
    ├── Unauthorized          401: no, bad or revoked token
    ├── Forbidden             403: authenticated, but not allowed
    ├── NotFound              404
    ├── Conflict              409: e.g. a batch id reused with other content
    ├── Invalid               422: a field's value is refused; ``field`` names it (``slots[3].active_s``)
    │   └── AdminError        an admin command's input refused (``server.admin``); the message names the field
    ├── TooLarge              413: body or batch beyond the caps
    └── RateLimited           429: with ``retry_after`` seconds

A database that is locked or unreachable (SQLAlchemy's ``OperationalError``, or no pooled connection free in
time) is answered 503 ``unavailable``
with ``Retry-After``, not 500: the transaction was rolled back, nothing was stored, and a retry will do.

Every error leaves the server as ``{"error": {"code", "message", "field"?}}`` (``protocol.schema.ErrorResponse``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol.schema import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = 2


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Invalid(ApiError):
    status = 422
    code = "invalid"


class AdminError(Invalid):
    """A refused admin request (``server.admin``: the CLI prints it and exits 2); the message names the field.
    An ``Invalid``: were an admin function called while answering a request, the client would read a 422."""


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "slots", 3, "active_s")`` → ``slots[3].active_s``: the path as the client wrote it."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def api_error_response(exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers())


def database_error(exc: BaseException) -> object:
    """What to log of a database error: the driver's own message (SQLAlchemy's adds the statement and a link)."""
    return exc.orig if isinstance(exc, OperationalError) else exc


def unavailable_response(exc: Exception) -> JSONResponse:
    """503 for a database that is locked or unreachable (``UNAVAILABLE``): nothing was stored, retry."""
    log.warning("database unavailable, answered 503: %s", database_error(exc))
    return error_response(503, "unavailable", "the database is busy or unreachable; retry shortly",
                          headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


#: What a database that is locked or unreachable raises: SQLAlchemy's ``OperationalError``, or no pooled
#: connection free within the pool's timeout (on SQLite, one connection, while another holds the lock).
UNAVAILABLE = (OperationalError, PoolTimeout)


def database_unavailable(exc: BaseException) -> bool:
    """``UNAVAILABLE``, or PostgreSQL gone: a pooled connection the driver found closed arrives as a plain
    ``DBAPIError`` that SQLAlchemy marks ``connection_invalidated``, and a new connection refused as asyncpg's own
    ``OSError``, unwrapped. For code whose only I/O is the database (the socket handshake's token look-up)."""
    return isinstance(exc, (*UNAVAILABLE, OSError)) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return api_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = field_path(first.get("loc", ()))
        kind = first.get("type", "")
        if kind == "json_invalid":
            return error_response(400, "malformed_json", "request body is not valid JSON", "body")
        message = _validation_message(first)
        if kind == "extra_forbidden":
            message = "unknown field"
        return error_response(422, "invalid", f"{field}: {message}", field)

    async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return unavailable_response(exc)

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _database_unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's "error parsing the body": JSON its decoder could not read other than by a
            # JSONDecodeError (nested deeper than the recursion limit, bytes that are not UTF-8).
            return error_response(400, "malformed_json", "request body is not valid JSON", "body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail),
                              headers=dict(exc.headers or {}))  # 405: Allow
