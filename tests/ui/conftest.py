"""UI tests: Qt on the offscreen platform (no display needed), a real server process, a stand-in keyring.

The platform is chosen with pytest-qt's ``qapp_args`` (``-platform offscreen``, the same as
``QT_QPA_PLATFORM=offscreen``) rather than by changing ``os.environ``, so the agent subprocesses of the other
suites in the same session are not affected. A process has one platform: tray tests that need a real X server
and tray host run the app in a subprocess of their own (test_tray_x11.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from pytestqt.qtbot import QtBot

from agent.assembly import Sampler
from support.keyrings import MemoryKeyring
from support.servers import ServerProcess, sqlite_server
from support.team import Person
from sync.credentials import CredentialStore
from sync.settings import AgentSettings, save
from ui.app import TrayApp


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    return ["staffpulse-tests", "-platform", "offscreen"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("ui-server")) as process:
        yield process


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


Launch = Callable[..., TrayApp]


@pytest.fixture
def launch(qtbot: QtBot, tmp_path: Path, server: ServerProcess, memory_keyring: MemoryKeyring,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Launch]:
    """Start the tray app in this process, as ``person`` (enrolled), or not enrolled at all (``None``)."""
    monkeypatch.delenv("DISPLAY", raising=False)  # no input counting here: the sampler falls back quietly
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    apps: list[TrayApp] = []

    def start(person: Person | None) -> TrayApp:
        data = tmp_path / f"data-{len(apps)}"
        data.mkdir()
        settings = AgentSettings()
        if person is not None:
            settings = AgentSettings(server_url=server.url)
            save(data, settings)
            CredentialStore().save(server.url, person.token)

        def sampler(on_change: Callable[..., None]) -> Sampler:
            return Sampler.open(data, idle_threshold=300, on_change=on_change)

        app = TrayApp(data, settings, sampler)
        qtbot.addWidget(app.window)
        app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.quit()
        assert app.wait_stopped(30), "the agent thread did not stop"
