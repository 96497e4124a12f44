"""What build_windows.spec requires of PyInstaller's analysis before it writes the app.

PyInstaller's PySide6 hook finds Qt's plugins by importing QtCore in the freezing Python. Where that import fails
(a system DLL missing, as ICU under Wine 8 was) the hook only warns, and the app would ship without Qt's platform
plugin: it would install, start and never show its window or tray icon. The build fails instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

PLATFORM_PLUGINS = {"win32": "qwindows.dll", "darwin": "libqcocoa.dylib", "linux": "libqxcb.so"}


class FreezeError(SystemExit):
    pass


def require_qt_platform_plugin(binaries: Iterable[tuple[str, str, str]], platform: str) -> None:
    """``binaries``: the analysis' (destination, source, kind) entries. Raises ``FreezeError`` naming the plugin
    when this OS's Qt platform plugin is not among them."""
    plugin = PLATFORM_PLUGINS["linux" if platform.startswith("linux") else platform]
    if not any(PurePath(destination.replace("\\", "/")).name == plugin for destination, _, _ in binaries):
        raise FreezeError(f"build_windows.spec: Qt's platform plugin {plugin} was not collected: PySide6 did not "
                          "load in the freezing Python (see PyInstaller's warnings above)")
