"""An in-memory keyring: the OS keyring service (Credential Manager, Keychain, Secret Service) is an OS
boundary this Linux CI machine does not run, so tests stand in for it here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend
import keyring.errors


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Stands in for the OS keyring service, which this Linux CI machine does not run."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.reads = 0  # how often the app went to the keyring (a real one can be slow, or prompt)

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.items:
            raise keyring.errors.PasswordDeleteError(username)
        del self.items[(service, username)]


class FileKeyring(keyring.backend.KeyringBackend):
    """The same stand-in for agent subprocesses: ``PYTHON_KEYRING_BACKEND=support.keyrings.FileKeyring`` with
    ``STAFFPULSE_TEST_KEYRING`` naming a JSON file, so a test can run ``staffpulse enroll`` for real."""

    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ["STAFFPULSE_TEST_KEYRING"])

    def _items(self) -> dict[str, str]:
        path = self._path()
        return dict(json.loads(path.read_text())) if path.exists() else {}

    @property
    def reads(self) -> int:
        """How often any process read this keyring (a real one can be slow, or prompt): the keyring child
        processes the app starts on Linux count too."""
        counter = self._path().with_suffix(".reads")
        return len(counter.read_text()) if counter.exists() else 0

    def get_password(self, service: str, username: str) -> str | None:
        with self._path().with_suffix(".reads").open("a") as counter:
            counter.write(".")
        return self._items().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._path().write_text(json.dumps(self._items() | {f"{service}\n{username}": password}))

    def delete_password(self, service: str, username: str) -> None:
        items = self._items()
        if items.pop(f"{service}\n{username}", None) is None:
            raise keyring.errors.PasswordDeleteError(username)
        self._path().write_text(json.dumps(items))
