"""The device token lives in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service) and
nowhere else.

``keyring`` picks its backend by itself, and where ``keyrings.alt`` is installed that can be a plaintext file
(base64 in ~/.local/share/python_keyring): such a backend, like none at all, does not count as a keyring.
Without one the agent stops with an error that says what to install — unless plaintext is explicitly allowed:
by IT's machine policy ``AllowPlaintextToken`` (``agent.policy``), or by ``STAFFPULSE_ALLOW_PLAINTEXT_TOKEN=1``
in the agent's environment (scripts/demo and tests on machines without a Secret Service). Then the token goes
to one file, ``device-token`` in the agent's data dir, readable by the user only. The token is never logged.

Where keyring runs is chosen in one place, ``token_store()``: on Windows and macOS in the agent's process; on
Linux in a short-lived child process per read or write (``sync.credentials_child``), because its Secret Service
backend (secretstorage, jeepney and cryptography's Rust extension) with keyring and its plugin discovery would
otherwise stay in the long-running agent: about 11 MiB of RSS (docs/agent.md, "Memory"). keyring is imported
only where it is used, so the agent on Linux never loads it.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent import paths
from agent.policy import MachinePolicy, load_policy
from sync.errors import KeyringUnavailable

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

SERVICE = "StaffPulse"
FALLBACK_FILE = "device-token"
ALLOW_ENV = "STAFFPULSE_ALLOW_PLAINTEXT_TOKEN"

NO_KEYRING = ("no usable OS keyring to store the device token (a plaintext file keyring does not count). On "
              "Linux install and unlock a Secret Service (e.g. 'apt install gnome-keyring' or KWallet); on Windows "
              "and macOS the system keyring is used. IT can instead allow a plaintext file readable only by the "
              f"user with the policy AllowPlaintextToken = 1 ({ALLOW_ENV}=1 does the same for one process).")


class _From(enum.Enum):
    POLICY = "policy"


def allowed_plaintext_dir(policy: MachinePolicy | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder for the plaintext token file when this machine allows one (policy or environment, see the
    module), else None."""
    env = os.environ if environ is None else environ
    allowed = env.get(ALLOW_ENV) == "1" or (policy or load_policy()).allow_plaintext_token
    return paths.data_dir() if allowed else None


def _secure(backend: keyring.backend.KeyringBackend) -> bool:
    """A keyring that keeps secrets out of plain files: not ``fail``/``null``, not one of keyrings.alt's."""
    from keyring.backends import fail, null

    chained = getattr(backend, "backends", None)  # the chainer writes to the first backend it chains
    if chained is not None:
        return bool(chained) and _secure(chained[0])
    return not isinstance(backend, fail.Keyring | null.Keyring) and not type(backend).__module__.startswith(
        "keyrings.alt")


class TokenStore(Protocol):
    """What the agent does with its token: ``CredentialStore``, or on Linux ``credentials_child.ChildStore``."""

    def check(self) -> None: ...
    def load(self, server_url: str) -> str | None: ...
    def save(self, server_url: str, token: str) -> None: ...
    def delete(self, server_url: str) -> None: ...


def token_store() -> TokenStore:
    """This OS's token store, as the agent and its commands use it (see the module)."""
    in_child = sys.platform not in ("win32", "darwin") and not getattr(sys, "frozen", False)  # frozen: no ``-m``
    if not in_child:
        return CredentialStore()
    from sync.credentials_child import ChildStore

    return ChildStore()


class CredentialStore:
    """Stores one token per server URL (a machine may be moved between servers), keyring in this process."""

    def __init__(self, *, backend: keyring.backend.KeyringBackend | None = None,
                 plaintext_dir: Path | _From | None = _From.POLICY) -> None:
        """``plaintext_dir`` is the plaintext file's folder when plaintext is allowed, None when it is not;
        by default what this machine's policy and environment say (``allowed_plaintext_dir()``)."""
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        self._backend = backend
        self._plaintext_dir = allowed_plaintext_dir() if plaintext_dir is _From.POLICY else plaintext_dir

    @property
    def uses_keyring(self) -> bool:
        return _secure(self._backend)

    def check(self) -> None:
        """Raise ``KeyringUnavailable`` unless a token could be saved: before enrolling, so a one-time code is
        not spent on a token that has nowhere to go."""
        if not self.uses_keyring:
            self._fallback()

    def _fallback(self) -> Path:
        if self._plaintext_dir is None:
            raise KeyringUnavailable(f"{NO_KEYRING} (keyring backend: {type(self._backend).__name__})")
        return self._plaintext_dir / FALLBACK_FILE

    def load(self, server_url: str) -> str | None:
        if self.uses_keyring:
            return self._backend.get_password(SERVICE, server_url)
        path = self._fallback()
        if not path.exists():
            return None
        stored_url, _, token = path.read_text(encoding="utf-8").partition("\n")
        return token.strip() or None if stored_url == server_url else None

    def save(self, server_url: str, token: str) -> None:
        import keyring.errors

        if self.uses_keyring:
            try:
                self._backend.set_password(SERVICE, server_url, token)
            except keyring.errors.KeyringError as exc:
                raise KeyringUnavailable(f"the OS keyring refused the token ({type(exc).__name__}): "
                                         "is it locked?") from exc
            return
        path = self._fallback()
        log.warning("storing the device token in a plaintext file (%s) as the policy allows", path)
        paths.chosen_folder(path.parent)  # created private if missing; an admin's existing folder keeps its mode
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, paths.PRIVATE_FILE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"{server_url}\n{token}\n")

    def delete(self, server_url: str) -> None:
        import keyring.errors

        if self.uses_keyring:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):  # nothing stored is already deleted
                self._backend.delete_password(SERVICE, server_url)
            return
        self._fallback().unlink(missing_ok=True)

