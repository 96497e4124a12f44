"""The third-party internals the agent and its frozen build rely on, pinned in pyproject.toml: each test fails
loudly when an upgrade renames or rewires one, here rather than in a frozen app on a staff PC. The server's are in
tests/security/test_socket_pins.py.

- build_windows.spec names pynput's private per-OS backend modules as hidden imports (pynput picks one at import
  time, so PyInstaller cannot see it): a renamed backend would leave the frozen app unable to count input.
- sync/credentials.py trusts keyring's chainer to write to the first of its ``backends``, highest priority first,
  and knows the backends that keep nothing by class.
- sync/selftest.py reads engine.io's ``websocket`` module global to tell whether websocket-client was frozen.
- agent/input_counter.py offers python-xlib only the X extensions pynput uses (RECORD, XTEST), by name from
  python-xlib's ``Xlib.ext.__extensions__``: an extension pynput starts to use would go missing on X11.
- build_windows.spec builds the Windows version resource from PyInstaller's undocumented versioninfo module.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import types
from pathlib import Path

import engineio.client
import keyring.backend
import pytest
import websocket
from keyring.backends import chainer, fail, null
from keyrings.alt.file import PlaintextKeyring

from agent.input_counter import PYNPUT_X_EXTENSIONS
from sync.credentials import CredentialStore

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("win32", "darwin", "linux")


def spec_backends() -> dict[str, str]:
    """build_windows.spec's ``PYNPUT_BACKENDS``, per ``sys.platform``: ``{…}.get(sys.platform, default)``."""
    for node in ast.walk(ast.parse((ROOT / "build_windows.spec").read_text())):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PYNPUT_BACKENDS"]:
            assert isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
            named, default = ast.literal_eval(node.value.func.value), ast.literal_eval(node.value.args[1])
            return {platform: named.get(platform, default) for platform in PLATFORMS}
    raise AssertionError("build_windows.spec no longer sets PYNPUT_BACKENDS")


def pynput_folder() -> Path:
    """Found without importing pynput, which loads a backend at import and fails where there is no display."""
    spec = importlib.util.find_spec("pynput")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def pynput_choice(platform: str) -> str:
    """The module pynput's own ``_util.backend`` imports on ``platform``: its code, loaded apart from the package,
    asked with ``sys.platform`` set and its import recorded instead of run."""
    loader = importlib.machinery.SourceFileLoader("pynput_util_probe", str(pynput_folder() / "_util" / "__init__.py"))
    probe = types.ModuleType(loader.name)
    loader.exec_module(probe)
    imported: list[str] = []
    probe.sys = types.SimpleNamespace(platform=platform)  # type: ignore[attr-defined]
    probe.importlib = types.SimpleNamespace(  # type: ignore[attr-defined]
        import_module=lambda name, package: imported.append(name))
    probe.backend("pynput.keyboard")  # type: ignore[attr-defined]
    (name,) = imported
    return name.removeprefix(".")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_spec_freezes_the_pynput_backend_pynput_picks(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNPUT_BACKEND", raising=False)
    monkeypatch.delenv("PYNPUT_BACKEND_KEYBOARD", raising=False)
    backend = spec_backends()[platform]
    assert pynput_choice(platform) == backend
    for device in ("keyboard", "mouse"):
        assert (pynput_folder() / device / f"{backend}.py").is_file(), f"pynput.{device}.{backend}"


def xlib_extension_methods() -> dict[str, set[str]]:
    """Per X extension (python-xlib's name), the methods its module adds to displays and resources."""
    spec = importlib.util.find_spec("Xlib")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "ext"
    listed = dict(ast.literal_eval(next(node.value for node in ast.parse((folder / "__init__.py").read_text()).body
                                       if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "")
                                       == "__extensions__")))
    return {name: {call.args[1].value for call in ast.walk(ast.parse((folder / f"{module}.py").read_text()))
                   if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "extension_add_method"
                   and isinstance(call.args[1], ast.Constant)} | {module} for name, module in listed.items()}


def test_pynput_uses_no_x_extension_but_those_the_agent_offers_it() -> None:
    """Every name pynput's X11 code reads that an extension adds (a display method like ``record_create_context``,
    or the extension's module, ``Xlib.ext.xtest``) belongs to one of ``PYNPUT_X_EXTENSIONS``."""
    methods = xlib_extension_methods()
    assert set(PYNPUT_X_EXTENSIONS) <= set(methods)
    read = {node.attr for path in pynput_folder().rglob("*xorg.py")
            for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
    used = {name for name, names in methods.items() if names & read}
    assert used == set(PYNPUT_X_EXTENSIONS)


class _Memory(keyring.backend.KeyringBackend):
    """An in-memory keyring backend (kept out of keyring's own discovery below); its priority is set per test."""

    priority = 0  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.stored[service, username]


keyring.backend.KeyringBackend._classes.discard(_Memory)  # a backend class registers itself: out of discovery


@pytest.mark.parametrize("memory_priority", [5, 0.1])
def test_the_keyring_chainer_writes_to_its_highest_priority_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  memory_priority: float) -> None:
    """What CredentialStore decides from: the chainer's ``backends``, highest priority first, and writes to the
    first. Ahead of the plaintext backend (0.5) the memory one is written; behind it, the chainer is refused."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    plaintext, memory = PlaintextKeyring(), _Memory()
    monkeypatch.setattr(_Memory, "priority", memory_priority)
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [plaintext, memory])
    chained = chainer.ChainerBackend()
    first = memory if memory_priority > plaintext.priority else plaintext
    assert chained.backends == sorted([plaintext, memory], key=lambda b: b.priority, reverse=True)
    chained.set_password("staffpulse", "https://pulse.example", "token")
    assert (memory.stored == {("staffpulse", "https://pulse.example"): "token"}) == (first is memory)
    assert Path(plaintext.file_path).exists() == (first is plaintext)
    assert CredentialStore(backend=chained, plaintext_dir=None).uses_keyring == (first is memory)


def test_the_backends_that_keep_nothing_are_these_classes() -> None:
    assert fail.Keyring.priority == 0 and null.Keyring.priority < 0
    assert type(PlaintextKeyring()).__module__.startswith("keyrings.alt"), "sync.credentials refuses it by module"


def test_engineio_keeps_websocket_client_as_its_websocket_global() -> None:
    assert engineio.client.websocket is websocket
    assert hasattr(websocket, "__version__")


def calls_to(module_alias: str, source: str) -> list[ast.Call]:
    """The calls ``alias.Name(…)`` in ``source``."""
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", None) == module_alias]


def test_the_version_resource_the_spec_builds_fits_pyinstallers_versioninfo() -> None:
    """The module imports Windows-only code, so its source is read: every class the spec calls exists and takes
    the arguments the spec passes, and PyInstaller's EXE still accepts a VSVersionInfo object."""
    spec = importlib.util.find_spec("PyInstaller.utils.win32.versioninfo")
    assert spec is not None and spec.origin
    classes = {node.name: node for node in ast.walk(ast.parse(Path(spec.origin).read_text()))
               if isinstance(node, ast.ClassDef)}
    calls = calls_to("vi", (ROOT / "build_windows.spec").read_text())
    assert {ast.unparse(call.func) for call in calls} >= {"vi.VSVersionInfo", "vi.FixedFileInfo", "vi.StringStruct"}
    for call in calls:
        name = call.func.attr  # type: ignore[attr-defined]
        assert name in classes, f"PyInstaller's versioninfo has no {name}"
        (init,) = [f for f in classes[name].body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
        parameters = [argument.arg for argument in init.args.args[1:]]
        assert len(call.args) <= len(parameters), f"{name}{tuple(parameters)}"
        assert {keyword.arg for keyword in call.keywords} <= set(parameters), f"{name}{tuple(parameters)}"
    building = importlib.util.find_spec("PyInstaller.building.api")
    assert building is not None and building.origin
    assert "isinstance(self.versrsrc, versioninfo.VSVersionInfo)" in Path(building.origin).read_text()
