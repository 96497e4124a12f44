"""A user's role in a team: what the server stores and the wire carries (``protocol.schema`` uses it).

Apart from the schema so the server's admin commands can check a role without loading pydantic and every
model (~0.2 s of each command's start).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    MEMBER = "member"
    MANAGER = "manager"
    ADMIN = "admin"


class RosterChangeKind(enum.StrEnum):
    """What the ``roster`` socket event says happened to a member (``protocol.schema.RosterEvent``)."""

    JOINED = "joined"  # created (by an admin, or by a deployment key that may add members)
    LEFT = "left"
    RENAMED = "renamed"  # the name or the role changed
