"""The sync layer's one exception tree, and ``in_words``: the one place that says an error to people.

    SyncError
    ├── NotEnrolled        no token stored, or the server refused it (401; ``code``: why); enroll again
    ├── Refused            the server refused a request for good (4xx other than 401/429); ``field`` says what
    ├── Transient          worth retrying: ``cause`` says which (network, TLS, 5xx or 429, an answer not understood)
    │   └── AwaitingApproval  403 ``device_pending``: an admin has yet to approve this device; keep everything
    ├── BadSetting         a setting that cannot be used (``field``, ``problem``): the server address, say
    └── KeyringUnavailable no usable OS keyring, and policy does not allow the plaintext fallback

``str(error)`` is the detail, for the log: exception names, URLs, the server's own words. What the Settings
dialog, the window, the tray and the CLI show is ``in_words(error)``: what happened and what to do, decided by
the error's type and code, never by the words of its message (issue 15, item 10).
"""

from __future__ import annotations

import enum
import urllib.parse

from protocol.refusals import ConnectRefusal

SEE_LOG = "The details are in StaffPulse's log."


class SyncError(Exception):
    pass


class NotEnrolled(SyncError):
    def __init__(self, message: str, code: str | None = None) -> None:
        """``code``: the server's (``revoked``, ``unknown_token``, ``missing_token``); None when no token is
        stored here at all."""
        super().__init__(message)
        self.code = code


class Refused(SyncError):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        where = f" ({field})" if field and field not in message else ""
        super().__init__(f"server refused: {message}{where}")
        self.status, self.code, self.reason, self.field = status, code, message, field


class Cause(enum.StrEnum):
    """Why a request is worth retrying."""

    UNREACHABLE = "unreachable"  # no connection, a timeout: the network or the server is down
    TLS = "tls"  # the server's certificate was not trusted (a TLS-inspecting proxy without its CA)
    BUSY = "busy"  # 5xx or 429
    NOT_UNDERSTOOD = "not_understood"  # an answer this agent cannot read (a proxy's page, another version)
    DISK = "disk"  # the outbox could not be written


class Transient(SyncError):
    def __init__(self, message: str, retry_after: float | None = None, *, server_url: str | None = None,
                 cause: Cause = Cause.UNREACHABLE) -> None:
        super().__init__(message)
        self.retry_after, self.server_url, self.cause = retry_after, server_url, cause


class AwaitingApproval(Transient):
    """The token is good but the device waits for ``staffpulse-server devices approve``: nothing is lost, the
    minutes stay in the outbox and go once it is approved."""


class BadSetting(SyncError):
    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"{field} {value!r}: {problem}")
        self.field, self.value, self.problem = field, value, problem


class KeyringUnavailable(SyncError):
    pass


def _host(url: str | None) -> str:
    return (urllib.parse.urlsplit(url).netloc or url) if url else "the server"


def _not_enrolled(code: str | None) -> str:
    if code is None:
        return "This device is not enrolled yet. Enroll it with the enrollment code your admin gave you."
    if code == ConnectRefusal.REVOKED:
        return ("An admin has revoked this device, so the server no longer accepts it. Ask your admin for a new "
                "enrollment code and enroll this device again.")
    return ("The server does not recognise this device any more. Ask your admin for a new enrollment code and "
            "enroll this device again.")


def _transient(error: Transient) -> str:
    host = _host(error.server_url)
    if isinstance(error, AwaitingApproval):
        return "An admin has yet to approve this device. Nothing is lost: your minutes are sent once it is approved."
    return {
        Cause.UNREACHABLE: f"Cannot reach the server ({host}). Check your network connection; StaffPulse keeps "
                           "trying.",
        Cause.TLS: f"Cannot confirm that {host} is your StaffPulse server: its certificate is not trusted. If your "
                   "network inspects secure connections, ask IT to set StaffPulse's CA bundle.",
        Cause.BUSY: f"The server ({host}) is busy or having trouble. StaffPulse tries again shortly.",
        Cause.NOT_UNDERSTOOD: f"The answer from {host} could not be read: is that address your StaffPulse server? "
                              f"{SEE_LOG}",
        Cause.DISK: f"StaffPulse cannot write to its data folder (is the disk full?). {SEE_LOG}",
    }[error.cause]


def _bad_setting(error: BadSetting) -> str:
    if error.field == "server_url":
        return (f"“{error.value}” cannot be used as the server address: it {error.problem}. Check the address "
                "your admin gave you.")
    return f"The {error.field.replace('_', ' ')} setting cannot be used: {error.problem}."


def in_words(error: BaseException) -> str:
    """What happened and what to do, for people; ``str(error)`` (the detail) belongs in the log."""
    if isinstance(error, NotEnrolled):
        return _not_enrolled(error.code)
    if isinstance(error, Transient):
        return _transient(error)
    if isinstance(error, BadSetting):
        return _bad_setting(error)
    if isinstance(error, Refused):
        if error.code == "redirect":
            return ("The server address points somewhere else (the server answered with a redirect). Enter the "
                    "address your admin gave you, exactly.")
        return f"The server refused: {error.reason.rstrip('.')}."
    if isinstance(error, KeyringUnavailable):
        return str(error)  # written for people: what to install, or what IT can allow
    if isinstance(error, SyncError):
        return f"{str(error)[:1].upper()}{str(error)[1:]}."
    return f"Something went wrong inside StaffPulse. {SEE_LOG}"
