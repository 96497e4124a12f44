"""Server settings, built once by the CLI (or a test) and passed down — never read at import time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import platformdirs


def default_database_url() -> str:
    """SQLite in the platform data dir, so a plain ``serve`` works on any machine without setup."""
    data_dir = Path(platformdirs.user_data_dir("StaffPulse Server", appauthor=False))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database is for the server's account alone
    return f"sqlite+aiosqlite:///{data_dir / 'staffpulse.db'}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = dataclasses.field(default_factory=default_database_url)
    #: A user with no socket for this long is shown offline.
    offline_grace_s: float = 60.0
    #: How often the sweeper looks for users to mark offline and sockets of revoked devices.
    sweep_interval_s: float = 5.0
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 512 * 1024
    #: SQLite: how long a write waits for another connection's lock before the request is answered 503.
    db_busy_timeout_s: float = 30.0
    #: Minutes older than this are refused (the agent drops them from its outbox at the same age) and deleted
    #: by the retention pass, with batch ids and expired enrollment codes (``server.retention``).
    retention_days: int = 30
    #: How often the retention pass runs (and once at start).
    retention_interval_s: float = 3600.0
    #: Rows one retention chunk deletes at most: one transaction, so one stretch of SQLite's write lock (about
    #: 40 ms for 1,000 minutes on a busy two-core machine, docs/server.md).
    retention_chunk_rows: int = 1000
    #: How often the day summariser sums the ``user_days`` that ingest marked stale (and once at start).
    summary_interval_s: float = 5.0
    #: A stale ``user_days`` row summed at most this long ago is served as is by the history ranges, not summed
    #: again on the request path: how far a day of the history may lag the minutes (docs/server.md, "History").
    summary_max_age_s: float = 60.0
    #: How far a device's clock may be off the server's (docs/protocol.md, "Time tolerances"): a minute that
    #: begins later than now + this, or ended earlier than the device's enrollment − this, is refused, as is a
    #: presence ``since`` later than now + this.
    clock_skew_s: int = 60
    #: Per-device write budget: ``write_burst`` requests at once, refilled at ``write_rate_per_s``.
    write_burst: int = 60
    write_rate_per_s: float = 2.0
    #: Engine.IO ping settings: a dead socket is noticed within interval + timeout.
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    #: Live sockets one user may hold at once (one per device): a leaked or shared token cannot open thousands.
    max_sockets_per_user: int = 10
    #: Largest socket message (a websocket message, a polling POST), in bytes: larger ones close the socket.
    max_socket_message_bytes: int = 64 * 1024
    #: An engine.io session that holds no socket.io connection this long is closed. A client sends its CONNECT
    #: right after engine.io's OPEN, and the agent gives up waiting for the answer after 10 s (socket.io's Node
    #: server allows 45 s).
    socket_connect_timeout_s: float = 15.0
    #: Per-socket packet budget: ``socket_packet_burst`` packets at once, refilled at ``socket_packet_rate_per_s``.
    #: The agent sends one CONNECT and a pong per ping interval; a socket that runs out is closed.
    socket_packet_burst: int = 30
    socket_packet_rate_per_s: float = 1.0
    #: Browser origins (``https://host[:port]``) allowed to open a socket; a request with any other ``Origin``
    #: header is refused. The agent sends none.
    allowed_origins: tuple[str, ...] = ()
    #: Failed enrollment attempts allowed at once per client address and per valid deployment key, refilled at
    #: ``enroll_rate_per_s`` (server.limits.EnrollmentLimit).
    enroll_burst: int = 20
    enroll_rate_per_s: float = 0.2
    #: Redis shared by several server processes (events, one socket per device, presence leases); ``None``
    #: runs one self-contained process.
    redis_url: str | None = None
    #: Serve ``/openapi.json`` (``serve --openapi``); off by default, so the server does not describe itself
    #: to whoever asks. ``/docs`` and ``/redoc`` are never served: they load scripts from a CDN.
    openapi: bool = False
    #: ``/healthz`` also says the server's version and its socket count (``serve --health-details``); off by
    #: default, since it answers without a token.
    health_details: bool = False
