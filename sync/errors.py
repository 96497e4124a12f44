"""The sync layer's one exception tree; the UI and CLI show ``str(error)`` to people as it is.

    SyncError
    ├── NotEnrolled        no token stored, or the server refused it (401): enroll again
    ├── Refused            the server refused a request for good (4xx other than 401/429); ``field`` says what
    ├── Transient          worth retrying: connection failure, timeout, 5xx or 429 (``retry_after`` if given)
    │   └── AwaitingApproval  403 ``device_pending``: an admin has yet to approve this device; keep everything
    └── KeyringUnavailable no usable OS keyring, and policy does not allow the plaintext fallback
"""

from __future__ import annotations


class SyncError(Exception):
    pass


class NotEnrolled(SyncError):
    pass


class Refused(SyncError):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        where = f" ({field})" if field and field not in message else ""
        super().__init__(f"server refused: {message}{where}")
        self.status, self.code, self.reason, self.field = status, code, message, field


class Transient(SyncError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AwaitingApproval(Transient):
    """The token is good but the device waits for ``staffpulse-server devices approve``: nothing is lost, the
    minutes stay in the outbox and go once it is approved."""


class KeyringUnavailable(SyncError):
    pass
