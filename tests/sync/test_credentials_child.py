"""On Linux the agent reads and writes its token through ``sync.credentials_child`` (issue 15, "Memory"): a real
Secret Service (gnome-keyring on a private D-Bus session) behind it, the same store as in-process, the refusals
and log lines of ``CredentialStore`` carried back, and keyring never loaded into the agent's process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.fault_harness import FAKETIME_LIB

from bench.memory import secret_service
from sync.credentials import ALLOW_ENV, NO_KEYRING, CredentialStore, token_store
from sync.credentials_child import ChildStore
from sync.errors import KeyringUnavailable

ROOT = Path(__file__).resolve().parents[2]
URL = "https://pulse.example.com"
TOKEN = "tok_child_0123456789abcdefghijklmnopqrstuvwxyz"
#: What the child loads and the agent must not: keyring, its Secret Service backend and what that needs.
KEYRING_LIBRARIES = {"keyring", "secretstorage", "jeepney", "cryptography"}


def in_process() -> CredentialStore:
    """The store as the agent would hold it in-process: the Secret Service, named (this test process's global
    keyring may be another's by now: keyring's chainer picks up every backend class a test module imported)."""
    from keyring.backends import SecretService

    return CredentialStore(plaintext_dir=None, backend=SecretService.Keyring())


@pytest.fixture
def desktop_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's environment in a desktop session: the Secret Service and nothing else as keyring."""
    with secret_service(tmp_path) as session:
        for name, value in session.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
        monkeypatch.delenv(ALLOW_ENV, raising=False)
        yield


def test_the_agent_on_linux_keeps_its_token_through_a_child_process() -> None:
    assert isinstance(token_store(), ChildStore)


@pytest.mark.usefixtures("desktop_keyring")
def test_a_token_round_trips_through_the_child_into_the_secret_service() -> None:
    """Saved by the child, read in-process from the Secret Service, and back; deleted by the child."""
    store = ChildStore()
    store.check()
    store.save(URL, TOKEN)
    assert in_process().load(URL) == TOKEN
    assert store.load(URL) == TOKEN
    assert store.load("https://other.example.com") is None
    store.delete(URL)
    store.delete(URL)  # nothing stored is already deleted
    assert store.load(URL) is None
    assert in_process().load(URL) is None


def test_without_a_keyring_the_childs_refusal_is_the_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    with pytest.raises(KeyringUnavailable) as refused:
        ChildStore().save(URL, TOKEN)
    assert NO_KEYRING in str(refused.value) and TOKEN not in str(refused.value)


def test_a_child_that_fails_is_a_keyring_error_with_the_reason_in_the_log(monkeypatch: pytest.MonkeyPatch,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_keyring_module.Keyring")
    with pytest.raises(KeyringUnavailable, match="could not be used"):
        ChildStore().load(URL)
    assert "No module named 'no_such_keyring_module'" in caplog.text


def test_the_childs_log_lines_reach_the_agents_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The plaintext fallback's warning (policy allowed it), without the token."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv(ALLOW_ENV, "1")
    monkeypatch.setenv("STAFFPULSE_DATA_DIR", str(tmp_path))
    with caplog.at_level(logging.INFO):
        ChildStore().save(URL, TOKEN)
    assert ChildStore().load(URL) == TOKEN
    assert [(r.name, r.levelno) for r in caplog.records if "plaintext file" in r.getMessage()] == [
        ("sync.credentials", logging.WARNING)]
    assert TOKEN not in caplog.text


def test_the_agent_reads_its_token_without_loading_keyring(tmp_path: Path) -> None:
    """In a process as the agent's, reading the token through ``token_store()`` loads none of keyring."""
    code = ("import json, sys\nimport staffpulse.cli\nfrom sync.credentials import token_store\n"
            f"assert token_store().load({URL!r}) == {TOKEN!r}\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", ALLOW_ENV: "1",
           "STAFFPULSE_DATA_DIR": str(tmp_path)}
    (tmp_path / "device-token").write_text(f"{URL}\n{TOKEN}\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "staffpulse" in loaded and loaded & KEYRING_LIBRARIES == set()


def test_a_child_that_could_not_start_once_is_started_again(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A busy machine may refuse a process once (EAGAIN): the agent must not start as "not enrolled" for it."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    real_popen, calls = subprocess.Popen, []

    def popen_refused_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen_refused_once)
    with caplog.at_level(logging.WARNING), pytest.raises(KeyringUnavailable, match="no usable OS keyring"):
        ChildStore().check()  # the second start ran the child, whose answer is the fail keyring's refusal
    assert len(calls) == 2 and "Resource temporarily unavailable" in caplog.text


def test_the_child_runs_on_a_faked_clock(tmp_path: Path) -> None:
    """The fault tests run the agent under libfaketime, whose sleep fails now and then with EINVAL: the keyring
    child's wait must not sleep (``_run_child``). Forty answers in a row on a faked clock."""
    offset = tmp_path / "faketime"
    offset.write_text("+0.000000\n")
    script = ("import os\nfrom sync.credentials_child import ChildStore\nfrom sync.errors import KeyringUnavailable\n"
              "for _ in range(40):\n"
              "    try:\n        ChildStore().check()\n    except KeyringUnavailable as exc:\n"
              "        assert 'no usable OS keyring' in str(exc), exc\n")
    env = {**os.environ, "LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME_TIMESTAMP_FILE": str(offset),
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
