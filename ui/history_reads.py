"""The History tab's and the export's server reads: which ``sync.api`` call answers what, for whom.

These run on a worker thread (``ui.worker.background``), each with its own ``ApiClient`` built there (one client
per thread, sync/api.py) on the agent's token cache, closed when the read is done. A manager or admin reads the
team's routes and picks a member from the answer; a member reads only their own days (the member routes with
their own id), so a member's window never asks for a teammate's data — and the server would refuse it anyway.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from protocol import export
from protocol.history import MAX_RANGE_DAYS
from protocol.roles import Role
from protocol.schema import Me, MemberDay, MemberDays, Retention
from sync.api import ApiClient
from ui.history_view import Period, Span

Result = TypeVar("Result")
#: Runs ``work`` off the GUI thread and hands its result (or exception) to ``done`` on it: ``TrayApp._background``.
Runner = Callable[[Callable[[], object], Callable[[object], None], str], None]


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who reads: their id and whether they see their team (managers and admins) or only themselves."""

    user_id: int
    name: str
    time_zone: str  # the account's: the zone its days are cut in
    manages: bool

    @classmethod
    def of(cls, me: Me) -> Viewer:
        return cls(me.user.id, me.user.name, me.user.time_zone, me.user.role in (Role.MANAGER, Role.ADMIN))


@dataclasses.dataclass(frozen=True)
class Answer:
    """One period as read: the day's rows (one per member shown) or the members' days over ``period.asked``."""

    period: Period
    days: list[MemberDay]
    ranges: list[MemberDays]
    retention: Retention | None  # what the server keeps, from the answer (None from a server before v1 said it)


#: Builds a client for one read (``TrayApp.new_client``: the agent's server and token cache, so a read does not go
#: to the OS keyring, which can be slow, each time); raises ``NotEnrolled`` without one.
Clients = Callable[[], ApiClient]


def with_client(clients: Clients, work: Callable[[ApiClient], Result]) -> Result:
    """Run ``work`` with a client of this thread's own, built by ``clients`` and closed after."""
    client = clients()
    try:
        return work(client)
    finally:
        client.close()


def read(client: ApiClient, viewer: Viewer, period: Period) -> Answer:
    start, end = period.asked
    if viewer.manages:
        if period.span is Span.DAY:
            day = client.team_day(start)
            return Answer(period, day.members, [], day.retention)
        days = client.team_days(start, end)
        return Answer(period, [], days.members, days.retention)
    if period.span is Span.DAY:
        own = client.member_day(viewer.user_id, start)
        return Answer(period, [own], [], own.retention)
    own_days = client.member_days(viewer.user_id, start, end)
    return Answer(period, [], [own_days], own_days.retention)


class Format(enum.StrEnum):
    CSV = "CSV"
    JSON = "JSON"


@dataclasses.dataclass(frozen=True)
class ExportRequest:
    start: date
    end: date
    user_id: int | None  # None: the whole team (managers only)
    format: Format


def range_problem(start: date, end: date) -> str | None:
    """Why the server would refuse this range, in words for the dialog; None when it is fine."""
    if end < start:
        return "The end date is before the start date."
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return f"Pick at most {MAX_RANGE_DAYS} days at once (export longer periods in parts)."
    return None


def export_text(client: ApiClient, request: ExportRequest) -> str:
    """The file's text, from ``protocol.export`` (the same rows as ``staffpulse-server report``)."""
    if request.user_id is None:
        team = client.team_days(request.start, request.end)
        return export.team_csv(team) if request.format is Format.CSV else team.model_dump_json(indent=2)
    member = client.member_days(request.user_id, request.start, request.end)
    return export.member_csv(member) if request.format is Format.CSV else member.model_dump_json(indent=2)
