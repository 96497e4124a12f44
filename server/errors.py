"""The server's one exception tree, and which database errors mean "retry shortly".

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
time: ``UNAVAILABLE``) is answered 503 ``unavailable`` with ``Retry-After``, not 500: the transaction was rolled
back, nothing was stored, and a retry will do.

How an error becomes a response is ``server.api.errors``'s. This module imports neither FastAPI nor pydantic, so
the admin commands (``server.cli``), which raise ``AdminError``, start without loading the web stack
(tests/server/test_cli_imports.py).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


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


def database_error(exc: BaseException) -> object:
    """What to log of a database error: the driver's own message (SQLAlchemy's adds the statement and a link)."""
    return exc.orig if isinstance(exc, OperationalError) else exc


#: What a database that is locked or unreachable raises: SQLAlchemy's ``OperationalError``, or no pooled
#: connection free within the pool's timeout (on SQLite, one connection, while another holds the lock).
UNAVAILABLE = (OperationalError, PoolTimeout)


def database_unavailable(exc: BaseException) -> bool:
    """``UNAVAILABLE``, or PostgreSQL gone: a pooled connection the driver found closed arrives as a plain
    ``DBAPIError`` that SQLAlchemy marks ``connection_invalidated``, and a new connection refused as asyncpg's own
    ``OSError``, unwrapped. For code whose only I/O is the database (the socket handshake's token look-up)."""
    return isinstance(exc, (*UNAVAILABLE, OSError)) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
