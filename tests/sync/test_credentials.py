"""The device token goes to the OS keyring and nowhere else; without one (keyrings.alt's plaintext file backends
do not count), a clear error or (by policy) a user-only file."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null
from keyrings.alt.file import PlaintextKeyring

from agent.policy import MachinePolicy
from support.keyrings import MemoryKeyring
from sync.credentials import ALLOW_ENV, SERVICE, CredentialStore, allowed_plaintext_dir
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
    store = CredentialStore(backend=fail.Keyring(), plaintext_dir=None)
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


def plaintext_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[PlaintextKeyring, Path]:
    """keyrings.alt's file backend, as ``keyring`` picks it by itself, keeping its file under ``tmp_path``."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    backend = PlaintextKeyring()
    return backend, Path(backend.file_path)


@pytest.mark.parametrize("kind", ["plaintext", "chained plaintext", "null"])
def test_a_plaintext_or_null_keyring_is_refused_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               kind: str) -> None:
    """Where keyrings.alt is installed, keyring picked its plaintext backend by itself: the token landed
    base64-encoded in ~/.local/share/python_keyring/keyring_pass.cfg."""
    backend, keyring_file = plaintext_keyring(tmp_path, monkeypatch)
    if kind == "chained plaintext":
        monkeypatch.setattr(chainer.ChainerBackend, "backends", [backend])
        store = CredentialStore(backend=chainer.ChainerBackend(), plaintext_dir=None)
    else:
        store = CredentialStore(backend=backend if kind == "plaintext" else null.Keyring(), plaintext_dir=None)
    assert not store.uses_keyring
    with pytest.raises(KeyringUnavailable, match="AllowPlaintextToken"):
        store.check()
    with pytest.raises(KeyringUnavailable, match="AllowPlaintextToken"):
        store.save(URL, TOKEN)
    assert not keyring_file.exists()


def test_allowed_plaintext_goes_to_the_agents_own_private_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    backend, keyring_file = plaintext_keyring(tmp_path, monkeypatch)
    store = CredentialStore(backend=backend, plaintext_dir=tmp_path / "data")
    store.check()
    store.save(URL, TOKEN)
    assert store.load(URL) == TOKEN
    assert not keyring_file.exists(), "not keyrings.alt's file: the agent's one, owner-only"
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "device-token").stat().st_mode) == 0o600


def test_plaintext_is_allowed_by_the_policy_or_the_environment(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFFPULSE_DATA_DIR", str(tmp_path))
    assert allowed_plaintext_dir(MachinePolicy(), {}) is None
    assert allowed_plaintext_dir(MachinePolicy(), {ALLOW_ENV: "0"}) is None
    assert allowed_plaintext_dir(MachinePolicy(allow_plaintext_token=True), {}) == tmp_path
    assert allowed_plaintext_dir(MachinePolicy(), {ALLOW_ENV: "1"}) == tmp_path
