"""One router per resource; ``server.app`` includes them all under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from protocol.schema import ErrorResponse

_WHEN = {
    400: "The body is not JSON (`malformed_json`).",
    401: "No, unknown or revoked device token (`unauthorized`, `revoked`); for enrollment a refused secret.",
    403: "Enrollment: the login is not on the key's team roster (`not_on_roster`) or must use a personal code "
         "(`personal_code_required`). History: the team's days are for its managers and admins (`manager_only`). "
         "Otherwise: the device waits for an admin's approval (`device_pending`).",
    404: "History: no such member, or one whose days the caller may not read (`not_found`, the same answer).",
    409: "A `batch_id` reused for different slots.",
    413: "The body is over the size cap, or the batch over the slot cap.",
    422: "A field's value is refused; `field` names it.",
    429: "The device's write budget, or the failed-enrollment budget of this address or secret, is spent; "
         "`Retry-After` says how many seconds to wait.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the refusals a route can answer, all in the protocol's one error shape."""
    return {status: {"model": ErrorResponse, "description": _WHEN[status]} for status in statuses}
