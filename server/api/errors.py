"""How the server's errors become the protocol's error body: every refusal leaves as
``{"error": {"code", "message", "field"?}}`` (``protocol.schema.ErrorResponse``), FastAPI's own included.

The exception tree is ``server.errors``'s; this half needs FastAPI, so it lives apart, and the admin commands
never load it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol.schema import ErrorBody, ErrorResponse
from server.errors import UNAVAILABLE, ApiError, database_error

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = 2


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


def unavailable_response(exc: Exception) -> JSONResponse:
    """503 for a database that is locked or unreachable (``UNAVAILABLE``): nothing was stored, retry."""
    log.warning("database unavailable, answered 503: %s", database_error(exc))
    return error_response(503, "unavailable", "the database is busy or unreachable; retry shortly",
                          headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


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
