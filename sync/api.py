"""The REST client for the team server: typed requests and answers, server errors as ``sync.errors``.

TLS verification is always on; ``ca_bundle`` adds a corporate CA (TLS-inspecting proxies), and the system's
or environment's proxy settings are honoured because ``requests`` reads them (``trust_env``).

One rule for sessions: an ``ApiClient`` and its ``requests.Session`` belong to one thread. requests does not
promise that a Session is safe to share between threads (its cookie jar and connection pool are mutated per
request), so each thread that talks to the server builds its own client (``sync.service.Connected``: the
uploader, the presence pusher and the live connection; a one-off job its own). ``_call`` enforces it: a
second thread using the same client raises ``RuntimeError`` instead of racing silently. ``close()`` closes
the Session.

Redirects are never followed: ``requests`` would resend the body (an enrollment code or key) and, to the same
host, the token to wherever a misconfigured server or proxy points, ``http://`` included, past the agent's
refusal of plain HTTP. The server itself never redirects, so any 3xx is refused naming the server URL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from agent.policy import checked_server_url
from protocol.schema import (
    ActivityBatch,
    ActivityResult,
    DayReport,
    Enrollment,
    EnrollmentResult,
    Me,
    MemberDay,
    MemberDays,
    PresenceAck,
    PresenceUpdate,
    TeamDay,
    TeamDays,
    TeamView,
)
from sync.errors import AwaitingApproval, NotEnrolled, Refused, SyncError, Transient

Answer = TypeVar("Answer", bound=BaseModel)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


class ApiClient:
    def __init__(self, server_url: str, token: Callable[[], str | None], *,
                 session: requests.Session | None = None, ca_bundle: str | None = None,
                 timeouts: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) -> None:
        try:
            self.server_url = checked_server_url(server_url)
        except ValueError as problem:
            raise SyncError(f"server URL {server_url!r} {problem}") from None
        self._token = token
        self._session = session or requests.Session()
        self._thread: threading.Thread | None = None  # the one thread that uses this client: set at first use
        # Passed with every request: a session-level verify loses to $REQUESTS_CA_BUNDLE, so a configured
        # corporate CA would be silently ignored on machines that set it.
        self._verify: str | bool = ca_bundle or True
        self._timeouts = timeouts

    def close(self) -> None:
        """Close the Session's pooled connections (on stop, so no socket is left open)."""
        self._session.close()

    def enroll(self, request: Enrollment) -> EnrollmentResult:
        return self._call("POST", "/api/v1/enroll", EnrollmentResult, body=request, auth=False)

    def me(self) -> Me:
        return self._call("GET", "/api/v1/me", Me)

    def post_activity(self, batch: ActivityBatch) -> ActivityResult:
        return self._call("POST", "/api/v1/activity", ActivityResult, body=batch)

    def put_presence(self, update: PresenceUpdate) -> PresenceAck:
        return self._call("PUT", "/api/v1/presence", PresenceAck, body=update)

    def team(self) -> TeamView:
        return self._call("GET", "/api/v1/team", TeamView)

    def day(self, day: date) -> DayReport:
        return self._call("GET", f"/api/v1/me/days/{day.isoformat()}", DayReport)

    # History (docs/protocol.md, "History"): the team's for managers, a member's for themself and their managers.

    def team_day(self, day: date) -> TeamDay:
        return self._call("GET", f"/api/v1/team/days/{day.isoformat()}", TeamDay)

    def team_days(self, start: date, end: date) -> TeamDays:
        return self._call("GET", f"/api/v1/team/days?{_range(start, end)}", TeamDays)

    def member_day(self, user_id: int, day: date) -> MemberDay:
        return self._call("GET", f"/api/v1/team/members/{user_id}/days/{day.isoformat()}", MemberDay)

    def member_days(self, user_id: int, start: date, end: date) -> MemberDays:
        return self._call("GET", f"/api/v1/team/members/{user_id}/days?{_range(start, end)}", MemberDays)

    def _call(self, method: str, path: str, answer: type[Answer], *, body: BaseModel | None = None,
              auth: bool = True) -> Answer:
        self._check_thread()
        headers = {"Accept": "application/json"}
        if auth:
            token = self._token()
            if not token:
                raise NotEnrolled("this device is not enrolled yet")
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = body.model_dump_json().encode()
        try:
            response = self._session.request(method, self.server_url + path, data=data, headers=headers,
                                             timeout=self._timeouts, verify=self._verify,
                                             allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise Transient(f"TLS check of {self.server_url} failed (set a CA bundle for a proxy?): {exc}") from exc
        except requests.RequestException as exc:
            raise Transient(f"cannot reach {self.server_url}: {type(exc).__name__}") from exc
        if 300 <= response.status_code < 400:
            raise Refused(response.status_code, "redirect",
                          f"{self.server_url} answered {path} with a redirect (HTTP {response.status_code}) to "
                          f"{response.headers.get('Location', 'nowhere')!r}; set the server URL to where the "
                          "server itself answers, the agent does not follow redirects")
        if response.status_code >= 400:
            raise _error_for(response, authenticated=auth)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise Transient(f"unexpected answer from the server for {path}: {exc.error_count()} problems") from exc


    def _check_thread(self) -> None:
        current = threading.current_thread()
        if self._thread is None:
            self._thread = current
        elif self._thread is not current:
            raise RuntimeError(f"an ApiClient belongs to one thread: used by {self._thread.name!r}, now by "
                               f"{current.name!r} (sync/api.py)")


def _range(start: date, end: date) -> str:
    return f"start={start.isoformat()}&end={end.isoformat()}"


def _error_for(response: requests.Response, *, authenticated: bool) -> SyncError:
    """A 401 means "enroll again" only for a request made with a token; for enrollment it is a bad secret."""
    status = response.status_code
    error: dict[str, Any] = {}
    with contextlib.suppress(ValueError, AttributeError, TypeError):  # not our JSON error body: use the reason
        error = dict(response.json().get("error", {}))
    message = str(error.get("message") or response.reason or f"HTTP {status}")
    if status == 401 and authenticated:
        return NotEnrolled(f"the server no longer accepts this device: {message}")
    if status == 403 and error.get("code") == "device_pending":
        return AwaitingApproval(message)
    if status == 429 or status >= 500:
        return Transient(f"server busy or failing (HTTP {status}): {message}", _retry_after(response))
    return Refused(status, str(error.get("code", "http_error")), message, error.get("field"))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


