"""The codes a refused socket.io connect carries in ``connect_error``'s ``data.code`` (docs/protocol.md).

Shared by the server, which sends them, and the agent, which decides on them: a refusal's words are for people
and may be reworded; the codes are the contract. A device whose token is refused with a final code stops
retrying until it is enrolled again; any other refusal is worth retrying later.
"""

from __future__ import annotations

import enum


class ConnectRefusal(enum.StrEnum):
    MISSING_TOKEN = "missing_token"
    UNKNOWN_TOKEN = "unknown_token"
    REVOKED = "revoked"
    #: the device waits for an admin's approval (the REST code passed on): retry later, keep the token
    DEVICE_PENDING = "device_pending"
    TOO_MANY_SOCKETS = "too_many_sockets"
    UNKNOWN_NAMESPACE = "unknown_namespace"
    #: the server could not reach its database to check the token: retry shortly (REST answers 503 ``unavailable``)
    UNAVAILABLE = "unavailable"


#: Refusals no retry can cure: the device must be enrolled again.
FINAL = frozenset({ConnectRefusal.MISSING_TOKEN, ConnectRefusal.UNKNOWN_TOKEN, ConnectRefusal.REVOKED})
