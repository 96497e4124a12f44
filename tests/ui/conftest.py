"""UI tests: Qt on the offscreen platform (``qapp_args`` in tests/conftest.py; no display needed), a real
server process, a stand-in keyring."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from pytestqt.qtbot import QtBot

from agent.assembly import Sampler
from agent.policy import MachinePolicy
from support.keyrings import FileKeyring
from support.servers import ServerProcess, sqlite_server
from support.team import Person
from sync.credentials import CredentialStore
from sync.settings import AgentSettings, effective, save
from ui.app import TrayApp

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("ui-server")) as process:
        yield process


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileKeyring]:
    """The test keyring, in this process and in the keyring child processes the app starts on Linux
    (``sync.credentials``): a JSON file they share through the environment."""
    previous = keyring.get_keyring()  # before the variable below: a first call chooses the backend from it
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "support.keyrings.FileKeyring")
    monkeypatch.setenv("STAFFPULSE_TEST_KEYRING", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    backend = FileKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


Launch = Callable[..., TrayApp]


@pytest.fixture
def launch(qtbot: QtBot, tmp_path: Path, server: ServerProcess, file_keyring: FileKeyring,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Launch]:
    """Start the tray app in this process, as ``person`` (enrolled), or not enrolled at all (``None``);
    ``sampler(data_dir, on_change)`` replaces the real sampler (tests that drive the clock and input); ``url``
    points the app elsewhere than the server (a proxy in front of it); ``policy`` is IT's for this machine,
    applied as ``staffpulse`` applies it; ``data`` reuses a data dir (that of an app that has quit: a restart)."""
    monkeypatch.delenv("DISPLAY", raising=False)  # no input counting here: the sampler falls back quietly
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    apps: list[TrayApp] = []

    def start(person: Person | None, sampler: Callable[[Path, Callable[..., None]], Sampler] | None = None, *,
              url: str | None = None, policy: MachinePolicy | None = None, data: Path | None = None) -> TrayApp:
        if data is None:
            data = tmp_path / f"data-{len(apps)}"
            data.mkdir()
        settings = AgentSettings()
        if person is not None:
            settings = AgentSettings(server_url=url or server.url)
            save(data, settings)
            CredentialStore().save(url or server.url, person.token)
        merged = effective(settings, policy or MachinePolicy())

        def open_sampler(on_change: Callable[..., None]) -> Sampler:
            if sampler is not None:
                return sampler(data, on_change)
            return Sampler.open(data, idle_threshold=merged.settings.idle_threshold_s, on_change=on_change)

        app = TrayApp(data, merged.settings, open_sampler, merged.locked)
        qtbot.addWidget(app.window)
        app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.quit()
        assert app.wait_stopped(30), "the agent thread did not stop"
