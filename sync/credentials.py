"""The device token lives in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service) and
nowhere else.

Without a usable keyring the agent stops with an error that says what to install — unless an admin policy
explicitly allows the plaintext fallback, a file readable only by the user. The token is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail

from sync.errors import KeyringUnavailable

log = logging.getLogger(__name__)

SERVICE = "StaffPulse"
FALLBACK_FILE = "device-token"

NO_KEYRING = ("no usable OS keyring to store the device token. On Linux install and unlock a Secret Service "
              "(e.g. 'apt install gnome-keyring' or KWallet); on Windows and macOS the system keyring is used. "
              "IT can instead allow the plaintext fallback with the policy AllowPlaintextToken.")


def _usable(backend: keyring.backend.KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring):
        return False
    chained = getattr(backend, "backends", None)  # the chainer backend is only as good as what it chains
    return chained is None or bool(chained)


class CredentialStore:
    """Stores one token per server URL (a machine may be moved between servers)."""

    def __init__(self, *, backend: keyring.backend.KeyringBackend | None = None,
                 plaintext_dir: Path | None = None) -> None:
        """``plaintext_dir`` is the fallback's folder, given only when policy allows it."""
        self._backend = backend or keyring.get_keyring()
        self._plaintext_dir = plaintext_dir

    @property
    def uses_keyring(self) -> bool:
        return _usable(self._backend)

    def _fallback(self, server_url: str) -> Path:
        if self._plaintext_dir is None:
            raise KeyringUnavailable(NO_KEYRING)
        return self._plaintext_dir / FALLBACK_FILE

    def load(self, server_url: str) -> str | None:
        if self.uses_keyring:
            return self._backend.get_password(SERVICE, server_url)
        path = self._fallback(server_url)
        if not path.exists():
            return None
        stored_url, _, token = path.read_text(encoding="utf-8").partition("\n")
        return token.strip() or None if stored_url == server_url else None

    def save(self, server_url: str, token: str) -> None:
        if self.uses_keyring:
            try:
                self._backend.set_password(SERVICE, server_url, token)
            except keyring.errors.KeyringError as exc:
                raise KeyringUnavailable(f"the OS keyring refused the token ({type(exc).__name__}): "
                                         "is it locked?") from exc
            return
        path = self._fallback(server_url)
        log.warning("storing the device token in a plaintext file (%s) as the policy allows", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"{server_url}\n{token}\n")

    def delete(self, server_url: str) -> None:
        if self.uses_keyring:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):  # nothing stored is already deleted
                self._backend.delete_password(SERVICE, server_url)
            return
        self._fallback(server_url).unlink(missing_ok=True)
