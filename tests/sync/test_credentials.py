"""The device token goes to the OS keyring and nowhere else; without one, a clear error or (by policy) a
user-only file."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from keyring.backends import fail

from support.keyrings import MemoryKeyring
from sync.credentials import SERVICE, CredentialStore
from sync.errors import KeyringUnavailable

URL = "https://pulse.example.com"
TOKEN = "tok_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


def test_token_round_trips_through_the_keyring(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = CredentialStore(backend=backend, plaintext_dir=tmp_path)
    assert store.load(URL) is None
    store.save(URL, TOKEN)
    assert backend.items == {(SERVICE, URL): TOKEN}
    assert store.load(URL) == TOKEN
    assert store.load("https://other.example.com") is None
    store.delete(URL)
    store.delete(URL)  # deleting twice is fine
    assert store.load(URL) is None
    assert list(tmp_path.iterdir()) == [], "with a keyring, nothing may be written to disk"


def test_no_keyring_is_a_clear_error_that_says_what_to_install() -> None:
    store = CredentialStore(backend=fail.Keyring())
    assert not store.uses_keyring
    with pytest.raises(KeyringUnavailable, match="gnome-keyring") as refused:
        store.save(URL, TOKEN)
    assert "AllowPlaintextToken" in str(refused.value)
    with pytest.raises(KeyringUnavailable):
        store.load(URL)


def test_plaintext_fallback_only_when_policy_allows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = CredentialStore(backend=fail.Keyring(), plaintext_dir=tmp_path)
    with caplog.at_level(logging.DEBUG):
        store.save(URL, TOKEN)
    [path] = tmp_path.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load(URL) == TOKEN
    assert store.load("https://other.example.com") is None
    assert "plaintext" in caplog.text
    assert TOKEN not in caplog.text, "the token must never be logged"
    store.delete(URL)
    assert not path.exists()
