"""``staffpulse-server``: run the server, and administer teams, users, devices and deployment keys.

Every admin command takes ``--database-url``, ``--database-url-file`` or ``STAFFPULSE_DATABASE_URL`` (the
last two keep a password out of the command line, which every local user can read in /proc), brings the schema
up to date first, and prints a table, or JSON with ``--json`` for scripts. A refused command exits with status 2 and a
message naming the field.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import server
from protocol.defaults import IDLE_THRESHOLD_S, INTERVAL_RANGE_S, SYNC_INTERVAL_S
from protocol.text import visible
from server import __version__
from server.config import Settings, default_database_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    import server.admin
    import server.demo

    AdminCall = Callable[[AsyncSession, argparse.Namespace, datetime], Awaitable[Any]]

KEY_ADDS_DEVICES_HELP = ("let a deployment key give a login that already has an active device another one "
                         "without approval (default: such devices wait for 'devices approve')")

#: After SIGINT or SIGTERM, how long requests still running may take before uvicorn cancels them (a long poll
#: would otherwise hold the exit for up to ping interval + timeout). The lifespan's stop follows; docs/server.md.
GRACEFUL_SHUTDOWN_S = 3


class UsageError(Exception):
    """A flag's value cannot be used; the message names the flag."""


def _database_url(args: argparse.Namespace) -> str:
    url: str | None = args.database_url or _read_url_file(args.database_url_file) \
        or os.environ.get("STAFFPULSE_DATABASE_URL")
    return url or default_database_url()


def _read_url_file(path: str | None) -> str | None:
    """The URL in ``--database-url-file`` (its first line): a file only the server's account can read keeps
    the password out of the process list."""
    if path is None:
        return None
    try:
        url = next(iter(Path(path).read_text(encoding="utf-8").splitlines()), "").strip()
    except OSError as exc:
        raise UsageError(f"--database-url-file: cannot read {path}: {exc.strerror}") from None
    if not url:
        raise UsageError(f"--database-url-file: {path} is empty; put the database URL on its first line")
    return url


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- serve ------------------------------------------------------------------------------------------------


def _listen(host: str, port: int) -> socket.socket:
    """Bind ourselves so ``--port 0`` works: the kernel picks a free port and we print which."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
    # every answer written in two parts waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _raise_open_files() -> None:
    """Every socket is a file descriptor: lift the soft limit (often 1024) to the hard one."""
    if sys.platform == "win32":  # no such limit there
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.http_protocol import HeadLimitedHttpTools

    try:
        database_url = _database_url(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        print("error: --ssl-certfile and --ssl-keyfile go together: give both for TLS, or neither", file=sys.stderr)
        return 2
    settings = Settings(database_url=database_url, offline_grace_s=args.offline_grace,
                        sweep_interval_s=args.sweep_interval, retention_days=args.retention_days,
                        retention_interval_s=args.retention_interval,
                        summary_interval_s=args.summary_interval, summary_max_age_s=args.summary_max_age,
                        write_burst=args.write_burst, write_rate_per_s=args.write_rate,
                        db_busy_timeout_s=args.db_busy_timeout, ping_interval_s=args.ping_interval,
                        ping_timeout_s=args.ping_timeout,
                        max_sockets_per_user=args.max_sockets_per_user,
                        socket_connect_timeout_s=args.socket_connect_timeout,
                        allowed_origins=tuple(args.allowed_origin),
                        redis_url=args.redis_url or os.environ.get("STAFFPULSE_REDIS_URL") or None,
                        openapi=args.openapi, health_details=args.health_details)
    _raise_open_files()
    sock = _listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    scheme = "https" if args.ssl_certfile else "http"
    print(f"StaffPulse server {__version__} listening on {scheme}://{host}:{port} "
          f"(database {_safe_url(settings.database_url)}, socket.io at /api/socket"
          f"{f', redis {_safe_url(settings.redis_url)}' if settings.redis_url else ''})", flush=True)
    # No websocket-level pings from uvicorn: engine.io's own ping/pong (``--ping-interval``) already finds dead
    # peers, and a second timer and ping per socket cost writes and memory for nothing. Websockets through
    # wsproto: 2.7 KiB less per idle socket than the websockets library's protocol (RSS at 5,000 sockets), and
    # fan-out and ingest as fast or faster (docs/scaling.md, fourth round). No permessage-deflate: a compressed
    # message is inflated before any size check (15 KiB became 15 MiB), and each deflate socket holds its own
    # zlib state (~100 KiB); the server's messages are small. A websocket message is buffered up to the socket
    # message cap, no further (uvicorn's default is 16 MiB). docs/security.md, socket limits.
    # HTTP through httptools with a cap on request heads (server/http_protocol.py).
    config = uvicorn.Config(create_app(settings), log_level=args.log_level, lifespan="on", http=HeadLimitedHttpTools,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, ws="wsproto", ws_ping_interval=None,
                            ws_ping_timeout=None, ws_per_message_deflate=False,
                            ws_max_size=settings.max_socket_message_bytes,
                            ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                            proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips)
    # ``Server.run`` on our socket, not ``asyncio.run(server.serve())``: it runs on the loop uvicorn.run would pick
    # (uvloop where installed, as uvicorn[standard] does on Linux and macOS), where plain asyncio.run would leave
    # every socket on the slower pure-Python loop (docs/scaling.md). Not ``uvicorn.run(fd=…)``: uvicorn wraps a
    # descriptor as a Unix socket, and asyncio sets TCP_NODELAY only on sockets that say they are TCP (see
    # ``_listen``). tests/server/test_third_party_internals.py checks both.
    uvicorn.Server(config).run(sockets=[sock])
    return 0


# --- admin ------------------------------------------------------------------------------------------------


def _print(result: Any, as_json: bool) -> None:
    """Print a result as a table, or as JSON. Names enrolled devices sent, or stored before control characters
    were refused, may hold escape sequences or bidi overrides: the table shows them escaped (``\\x1b``,
    ``\\u202e``), and JSON writes every non-ASCII and control character as ``\\u`` escapes."""
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=True))
        return
    rows = result if isinstance(result, list) else [result]
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    cells = [[visible(str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for line in cells:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def _admin(call: AdminCall) -> Callable[[argparse.Namespace], int]:
    """The ``run`` of an admin command: ``call`` in one transaction on an up-to-date database, its result printed.

    SQLAlchemy and the admin code are imported here, when a command runs, not when the parser is built: ``--help``
    and a mistyped flag answer at once. ``call`` reaches ``server.admin.*`` and ``server.demo.*`` through the
    package, whose attributes these imports set. Alembic loads only when the schema is behind
    (``server.migrate``), the web stack never (tests/server/test_cli_imports.py)."""
    def run(args: argparse.Namespace) -> int:
        import server.admin
        import server.demo  # noqa: F401  (sets the package attribute call reads)
        from server.errors import AdminError
        from server.migrate import run_in_session

        try:
            result = asyncio.run(run_in_session(_database_url(args), lambda s, now: call(s, args, now)))
        except (AdminError, UsageError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _print(result, args.json)
        return 0

    return run


def report(args: argparse.Namespace) -> int:
    """``report``: a team's or a member's days as CSV or JSON, the same numbers as the history API gives
    (``server.history`` builds both, ``protocol.export`` writes the CSV). Loads the wire models (pydantic), never
    the web stack."""
    from protocol.export import member_csv, team_csv
    from protocol.schema import TeamDays
    from server import history, server_settings
    from server.errors import Invalid
    from server.migrate import run_in_session

    async def build(session: AsyncSession, now: datetime) -> Any:
        # The running server's window (``serve`` records it), unless the flag says otherwise.
        settings = Settings(database_url="unused")
        days = args.retention_days or await server_settings.retention_days(session) or settings.retention_days
        settings = dataclasses.replace(settings, retention_days=days)
        return await history.report(session, team=args.team, login=args.user, start=args.start, end=args.end,
                                    now=now, settings=settings)

    try:
        history.check_range(args.start, args.end, fields=("--start", "--end"), longest=None)
        answer = asyncio.run(run_in_session(_database_url(args), build))
    except (Invalid, UsageError) as exc:  # AdminError is an Invalid
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json" or args.json:
        text = answer.model_dump_json(indent=2) + "\n"
    else:
        text = team_csv(answer) if isinstance(answer, TeamDays) else member_csv(answer)
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
    return 0


def _day(text: str) -> date:
    """Only ``YYYY-MM-DD``, as the API takes it (``date.fromisoformat`` alone would take ``20260101`` too)."""
    try:
        if len(text) == 10 and text[4] == text[7] == "-":
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _yes_no(answer: str | None) -> bool | None:
    """A ``yes``/``no`` option's value; None when it was not given (the setting stays as it is)."""
    return None if answer is None else answer == "yes"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="SQLAlchemy URL: sqlite:///file.db or postgresql://… (default: "
                       "$STAFFPULSE_DATABASE_URL, else SQLite in the platform data dir); a URL with a password "
                       "belongs in --database-url-file or the environment: every local user can read a command line")
    where.add_argument("--database-url-file", metavar="FILE",
                       help="read the database URL from the first line of FILE (make it readable by the server's "
                       "account only)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")

    parser = argparse.ArgumentParser(prog="staffpulse-server", description=(
        "StaffPulse team server: REST API at /api/v1, live socket.io at /api/socket, and the admin "
        "commands for teams, users, devices and deployment keys."))
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("serve", parents=[common], help="run the server (migrates the database first)",
                            description="Run the server with uvicorn; the schema is migrated at start.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8400, help="port; 0 picks a free one and prints it (default 8400)")
    p.add_argument("--offline-grace", type=float, default=60.0, metavar="SECONDS",
                   help="show a user offline after this long without a socket (default 60)")
    p.add_argument("--sweep-interval", type=float, default=5.0, metavar="SECONDS",
                   help="how often to check for offline users and revoked devices (default 5)")
    p.add_argument("--retention-days", type=_positive, default=30, metavar="DAYS",
                   help="keep minutes this long: older ones are refused and deleted (a team that keeps day "
                   "totals keeps those; see 'teams set') (default 30, as the agent's outbox)")
    p.add_argument("--retention-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="how often to delete what is past --retention-days; also once at start (default 3600)")
    p.add_argument("--summary-interval", type=float, default=5.0, metavar="SECONDS",
                   help="how often to sum the days that new minutes changed, for the history; also once at start "
                   "(default 5)")
    p.add_argument("--summary-max-age", type=float, default=60.0, metavar="SECONDS",
                   help="the history may serve a day summed at most this long ago although minutes came since "
                   "(default 60)")
    p.add_argument("--write-burst", type=int, default=60, metavar="N",
                   help="writes a device may make at once before rate limiting (default 60)")
    p.add_argument("--write-rate", type=float, default=2.0, metavar="PER_S",
                   help="writes per second a device's budget refills by (default 2)")
    p.add_argument("--db-busy-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="SQLite: how long a write waits for a lock held elsewhere before answering 503 (default 30)")
    p.add_argument("--ping-interval", type=float, default=20.0, metavar="SECONDS",
                   help="Engine.IO ping interval; a dead socket is noticed within interval + timeout (default 20)")
    p.add_argument("--ping-timeout", type=float, default=20.0, metavar="SECONDS",
                   help="Engine.IO ping timeout (default 20)")
    p.add_argument("--max-sockets-per-user", type=_positive, default=10, metavar="N",
                   help="live sockets one user may hold at once, one per device; more are refused (default 10)")
    p.add_argument("--socket-connect-timeout", type=float, default=15.0, metavar="SECONDS",
                   help="close an engine.io session that holds no socket.io connection this long (default 15)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                   help="a browser origin (https://host[:port]) allowed to open a socket; repeat for more. "
                   "Requests with any other Origin header are refused; the agent sends none (default: none)")
    p.add_argument("--redis-url", metavar="URL",
                   help="redis://host:6379/0 shared by every server process behind one load balancer: events, "
                   "one socket per device and presence then work across processes (default: "
                   "$STAFFPULSE_REDIS_URL, else one self-contained process)")
    p.add_argument("--ssl-certfile", metavar="PEM",
                   help="serve HTTPS with this certificate (chain) file, without a proxy in front; with --ssl-keyfile")
    p.add_argument("--ssl-keyfile", metavar="PEM", help="the private key of --ssl-certfile")
    p.add_argument("--forwarded-allow-ips", metavar="ADDRESSES",
                   help="comma-separated addresses or networks of proxies whose X-Forwarded-For/-Proto are "
                   "trusted, so limits count the real client, not the proxy; '*' trusts any peer (only when "
                   "nothing else can reach the port) (default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1: a proxy "
                   "on this host)")
    p.add_argument("--openapi", action="store_true",
                   help="serve the API's description at /openapi.json (default: off)")
    p.add_argument("--health-details", action="store_true",
                   help="/healthz also shows the version and the socket count to anyone who asks (default: off)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    p.set_defaults(run=_admin(lambda s, a, now: _migrated(_safe_url(_database_url(a)))))

    p = commands.add_parser("demo", parents=[common], help="create the demo team (once) and print fresh "
                            "enrollment codes and a deployment key for it")
    p.set_defaults(run=_admin(lambda s, a, now: server.demo.seed(s, now=now)))

    teams = commands.add_parser("teams", help="create and list teams").add_subparsers(dest="action", required=True)
    p = teams.add_parser("create", parents=[common], help="create a team and its tracking policy")
    p.add_argument("name", help="team name, unique")
    low, high = INTERVAL_RANGE_S
    p.add_argument("--idle-threshold", type=int, default=IDLE_THRESHOLD_S, metavar="SECONDS",
                   help=f"no input for this long counts as idle ({low}-{high}, default {IDLE_THRESHOLD_S})")
    p.add_argument("--sync-interval", type=int, default=SYNC_INTERVAL_S, metavar="SECONDS",
                   help=f"how often agents upload ({low}-{high}, default {SYNC_INTERVAL_S})")
    p.add_argument("--pause-allowed", action="store_true", help="let members pause tracking")
    p.add_argument("--key-adds-devices", action="store_true", help=KEY_ADDS_DEVICES_HELP)
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.create_team(
        s, name=a.name, now=now, idle_threshold_s=a.idle_threshold, sync_interval_s=a.sync_interval,
        pause_allowed=a.pause_allowed, key_adds_devices=a.key_adds_devices)))
    p = teams.add_parser("list", parents=[common], help="list teams")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.list_teams(s)))
    p = teams.add_parser("set", parents=[common], help="change a team's tracking policy, enrollment or retention "
                         "setting (agents apply a new policy at their next connect)")
    p.add_argument("name", help="the team's name")
    p.add_argument("--idle-threshold", type=int, metavar="SECONDS",
                   help=f"no input for this long counts as idle ({low}-{high})")
    p.add_argument("--sync-interval", type=int, metavar="SECONDS", help=f"how often agents upload ({low}-{high})")
    p.add_argument("--pause-allowed", choices=["yes", "no"], help="whether members may pause tracking")
    p.add_argument("--key-adds-devices", choices=["yes", "no"], help=KEY_ADDS_DEVICES_HELP)
    p.add_argument("--keep-day-totals", choices=["yes", "no"],
                   help="keep each member's day totals and hourly profile once the day's minutes are past "
                   "--retention-days (default no: nothing of the day is left)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.set_team(
        s, name=a.name, key_adds_devices=_yes_no(a.key_adds_devices), idle_threshold_s=a.idle_threshold,
        sync_interval_s=a.sync_interval, pause_allowed=_yes_no(a.pause_allowed),
        keep_day_totals=_yes_no(a.keep_day_totals))))

    users = commands.add_parser("users", help="create, rename and list users, issue enrollment codes").add_subparsers(
        dest="action", required=True)
    p = users.add_parser("create", parents=[common], help="add a user to a team")
    p.add_argument("--team", required=True, help="the team's name")
    p.add_argument("--login", required=True, help="e-mail, DOMAIN\\user or UPN; what the agent reports")
    p.add_argument("--name", required=True, help="display name shown to the team")
    p.add_argument("--role", default="member", choices=["member", "manager", "admin"])
    p.add_argument("--time-zone", default="UTC", help="IANA zone the user's days are cut in (default UTC)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.create_user(
        s, team=a.team, login=a.login, name=a.name, role=a.role, time_zone=a.time_zone, now=now)))
    p = users.add_parser("rename", parents=[common], help="change a user's display name or role (the team's "
                         "open windows follow)")
    p.add_argument("login", help="the user's login")
    p.add_argument("--name", help="the new display name")
    p.add_argument("--role", choices=["member", "manager", "admin"], help="the new role")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.rename_user(s, login=a.login, name=a.name,
                                                                  role=a.role, now=now)))
    p = users.add_parser("list", parents=[common], help="list users")
    p.add_argument("--team", help="only this team")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.list_users(s, team=a.team)))
    p = users.add_parser("code", parents=[common], help="issue a one-time personal enrollment code")
    p.add_argument("login", help="the user's login")
    p.add_argument("--valid-hours", type=int, default=72, help="hours until the code expires (default 72)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.issue_code(s, login=a.login, now=now,
                                                                 valid_hours=a.valid_hours)))

    devices = commands.add_parser("devices", help="list, approve, deny and revoke enrolled devices").add_subparsers(
        dest="action", required=True)
    p = devices.add_parser("list", parents=[common], help="list devices: status (active, pending, revoked), how "
                           "(code, key:<id> <name>, legacy) and when each was enrolled")
    p.add_argument("--login", help="only this user's devices")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.list_devices(s, login=a.login)))
    p = devices.add_parser("revoke", parents=[common], help="revoke a device: its token stops working and "
                           "its socket is closed by the running server")
    p.add_argument("id", type=int, help="device id (see devices list)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.revoke_device(s, device_id=a.id, now=now)))
    p = devices.add_parser("approve", parents=[common], help="let a pending device (a deployment key's extra "
                           "device for a login) upload and connect; the user's other devices are told")
    p.add_argument("id", type=int, help="device id (see devices list)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.approve_device(s, device_id=a.id, now=now)))
    p = devices.add_parser("deny", parents=[common], help="refuse a pending device: its token is revoked")
    p.add_argument("id", type=int, help="device id (see devices list)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.deny_device(s, device_id=a.id, now=now)))

    keys = commands.add_parser("keys", help="deployment keys for silent installs").add_subparsers(
        dest="action", required=True)
    p = keys.add_parser("create", parents=[common], help="create a deployment key (IT's ENROLLTOKEN)")
    p.add_argument("--team", required=True, help="the team enrolled devices join")
    p.add_argument("--name", default="deployment", help="a label for the key")
    p.add_argument("--allow-create", action="store_true",
                   help="logins not on the roster become new members of the team")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.create_key(s, team=a.team, name=a.name, now=now,
                                                                 allow_create=a.allow_create)))
    p = keys.add_parser("list", parents=[common], help="list deployment keys (never the secret)")
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.list_keys(s)))
    p = keys.add_parser("revoke", parents=[common], help="revoke a deployment key")
    p.add_argument("id", type=int)
    p.set_defaults(run=_admin(lambda s, a, now: server.admin.revoke_key(s, key_id=a.id, now=now)))
    p = commands.add_parser("report", parents=[common], help="a team's or a member's days (totals, first and last "
                            "activity) over a date range, as CSV or JSON: the numbers the history API gives")
    p.add_argument("--team", required=True, help="the team's name")
    p.add_argument("--user", metavar="LOGIN", help="only this member of the team")
    p.add_argument("--start", required=True, type=_day, metavar="YYYY-MM-DD", help="first day (inclusive)")
    p.add_argument("--end", required=True, type=_day, metavar="YYYY-MM-DD", help="last day (inclusive)")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="default: csv")
    p.add_argument("--out", metavar="FILE", help="write here instead of to standard output")
    p.add_argument("--retention-days", type=_positive, metavar="DAYS",
                   help="the window to show (default: the --retention-days the server last started with; 30 "
                   "if none started since this was recorded)")
    p.set_defaults(run=report)
    return parser


async def _migrated(url: str) -> dict[str, str]:
    return {"database": url, "schema": "up to date"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Admin commands print results; only the server itself needs routine log lines.
    logging.basicConfig(level=logging.INFO if args.command == "serve" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
