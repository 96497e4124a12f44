"""What IT decided for this machine: the server, the deployment key that enrolls it, the idle threshold, and
whether the device token may be kept in a plaintext file where the machine has no OS keyring.

Policy beats the user's own settings (``sync.settings.effective``) and the settings dialog shows such fields
locked. One sibling module per OS reads the raw values, and ``select_source`` is the one place that picks:

    _windows  HKLM\\Software\\Policies\\StaffPulse       (the MSI's properties, or Group Policy via the ADMX)
    _macos    /Library/Managed Preferences/com.staffpulse.agent.plist   (a configuration profile, MDM)
    _linux    /etc/staffpulse/policy.json

``parse`` checks each value on its own: a missing one means no policy for that field; a malformed one is a
warning naming the key and the source, and that field falls back to the user's setting. A policy that cannot
be read at all is one warning and no policy. The agent never stops over policy: IT fixes it centrally, and
meanwhile the person keeps working. The enrollment key is a secret: it never appears in a log or a repr.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import sys
import urllib.parse
from collections.abc import Mapping
from typing import Protocol

from agent.errors import PolicyUnreadable
from protocol.defaults import INTERVAL_RANGE_S

__all__ = ["ALLOW_PLAINTEXT_TOKEN", "ENROLL_TOKEN", "IDLE_THRESHOLD", "SERVER_URL",
           "MachinePolicy", "PolicySource",
           "PolicyUnreadable", "checked_server_url", "load_policy", "parse", "select_source"]

log = logging.getLogger(__name__)


# The value names, as IT types them in the registry, the plist or the JSON file.
SERVER_URL, ENROLL_TOKEN, IDLE_THRESHOLD = "ServerUrl", "EnrollToken", "IdleThreshold"
ALLOW_PLAINTEXT_TOKEN = "AllowPlaintextToken"


class PolicySource(Protocol):
    where: str  # named in warnings: the registry key or the file

    def read(self) -> Mapping[str, object]:
        """The raw values by name; empty when no policy is set. Raises ``PolicyUnreadable``."""
        ...


@dataclasses.dataclass(frozen=True)
class MachinePolicy:
    server_url: str | None = None
    enroll_token: str | None = dataclasses.field(default=None, repr=False)  # IT's deployment key: a secret
    idle_threshold_s: int | None = None
    #: The token may live in a plaintext file (owner-only) when there is no OS keyring (``sync.credentials``).
    allow_plaintext_token: bool = False

    @property
    def locked(self) -> frozenset[str]:
        """The fields policy sets, by their name in the user's settings (the dialog greys these out)."""
        return frozenset(name for name in ("server_url", "idle_threshold_s") if getattr(self, name) is not None)


def checked_server_url(value: str) -> str:
    """A server URL as the agent keeps it; ``ValueError`` when it is not https, or plain http to another
    machine: the token and every upload would cross the network in clear text (docs/server.md: agents use
    HTTPS only). http to this machine (localhost, 127.0.0.0/8, ::1) stays allowed for demos and tests."""
    if value.startswith("https://"):
        return value.rstrip("/")
    if not value.startswith("http://"):
        raise ValueError("must start with https://")
    if not _loopback(urllib.parse.urlsplit(value).hostname or ""):
        raise ValueError("must start with https://: plain http:// would send the device token and the activity "
                         "in clear text (http:// is allowed only to this machine: localhost, 127.0.0.1, ::1)")
    return value.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only ``localhost`` is known to stay on this machine
        return False


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    return value.strip()


def _seconds(value: object) -> int:
    """A DWORD from the registry, an integer from a plist or JSON, or digits in a string value."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"must be a whole number of seconds, not {type(value).__name__}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number of seconds, not {value!r}") from None
    low, high = INTERVAL_RANGE_S
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high} seconds, not {number}")
    return number


def _flag(value: object) -> bool:
    """A REG_DWORD 1 or 0, a plist or JSON boolean, or the text "1", "0", "true", "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "0", "true", "false"):
        return value.strip().lower() in ("1", "true")
    raise ValueError(f"must be 1 (allowed) or 0 (not allowed), not {value!r}")


def parse(raw: Mapping[str, object], where: str) -> MachinePolicy:
    """The policy in ``raw``; a value that is malformed is a warning and left unset (never a crash)."""
    values: dict[str, object] = {}
    for key, field, check in ((SERVER_URL, "server_url", lambda v: checked_server_url(_text(v))),
                              (ENROLL_TOKEN, "enroll_token", _text),
                              (IDLE_THRESHOLD, "idle_threshold_s", _seconds),
                              (ALLOW_PLAINTEXT_TOKEN, "allow_plaintext_token", _flag)):
        value = raw.get(key)
        if value is None or value == "":
            continue  # not set: an MSI installed without that property writes nothing
        try:
            checked = check(value)
            values[field] = checked if isinstance(checked, bool) else checked or None
        except ValueError as problem:
            shown = "(hidden)" if key == ENROLL_TOKEN else repr(value)
            log.warning("policy %s in %s is malformed (%s: %s); ignoring it", key, where, shown, problem)
    return MachinePolicy(**values)  # type: ignore[arg-type]


def select_source(system: str) -> PolicySource:
    """The policy source for ``system`` (a ``sys.platform`` value) at its standard location."""
    if system == "win32":
        from agent.policy._windows import RegistryPolicy

        return RegistryPolicy()
    if system == "darwin":
        from agent.policy._macos import ManagedPreferences

        return ManagedPreferences()
    from agent.policy._linux import PolicyFile

    return PolicyFile()


def load_policy(source: PolicySource | None = None, system: str = sys.platform) -> MachinePolicy:
    """This machine's policy; ``source`` defaults to the OS's own. Never raises."""
    source = source or select_source(system)
    try:
        raw = source.read()
    except PolicyUnreadable as problem:
        log.warning("policy in %s cannot be read (%s); no policy applied", source.where, problem)
        return MachinePolicy()
    policy = parse(raw, source.where)
    if policy != MachinePolicy():
        log.info("policy from %s sets %s", source.where,
                 ", ".join(f.name for f in dataclasses.fields(policy) if getattr(policy, f.name) not in (None, False)))
    return policy
