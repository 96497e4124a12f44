"""Light or dark: which palette the window uses, following the OS unless the person chose one.

The OS's choice comes from Qt (6.5+): ``QStyleHints.colorScheme()`` at start and its ``colorSchemeChanged``
signal while running (Windows' "app mode", macOS' appearance, GNOME/KDE through the desktop portal). A
preference (``theme`` in ui.json: ``system``, ``light`` or ``dark``) overrides it. An unknown OS answer
(no platform theme, e.g. a bare X server) means light.

``apply`` sets the application's ``QPalette`` from ``ui.palettes``; Qt then repaints every widget (a palette
change reaches each one as ``QEvent.PaletteChange``), so widgets that paint themselves only have to read
their colours in ``paintEvent``:

    from ui import theme
    colours = theme.colors()          # ui.palettes.Colors: .base, .text, .muted, .grid, .state(PresenceState)...

Windows' native "windowsvista" style draws with fixed system colours and ignores a dark palette; in dark the
app switches to Qt's Fusion style, which honours it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from ui.palettes import DARK, LIGHT, PALETTES, Colors, Scheme

log = logging.getLogger(__name__)

SYSTEM = "system"  # follow the OS; the choices are ``ui.preferences.THEMES``
#: Styles that paint with the OS's colours whatever the palette says.
_FIXED_COLOUR_STYLES = {"windowsvista", "windows"}

_applied: Scheme | None = None
_following = False  # the OS's changes are applied (the choice is "system")
_connected = False  # the slot is connected to the style hints (once per process)


def os_scheme() -> Scheme:
    return _scheme_of(QGuiApplication.styleHints().colorScheme())


def _scheme_of(hint: Qt.ColorScheme) -> Scheme:
    return Scheme.DARK if hint == Qt.ColorScheme.Dark else Scheme.LIGHT


def palette(colours: Colors) -> QPalette:
    """A QPalette with every role a widget paints from; disabled text is the muted colour."""
    result = QPalette()
    roles = {
        QPalette.ColorRole.Window: colours.window, QPalette.ColorRole.WindowText: colours.text,
        QPalette.ColorRole.Base: colours.base, QPalette.ColorRole.AlternateBase: colours.alternate,
        QPalette.ColorRole.Text: colours.text, QPalette.ColorRole.Button: colours.button,
        QPalette.ColorRole.ButtonText: colours.text, QPalette.ColorRole.ToolTipBase: colours.base,
        QPalette.ColorRole.ToolTipText: colours.text, QPalette.ColorRole.PlaceholderText: colours.muted,
        QPalette.ColorRole.Highlight: colours.highlight, QPalette.ColorRole.HighlightedText: colours.highlight_text,
        QPalette.ColorRole.Link: colours.link, QPalette.ColorRole.BrightText: colours.error,
        QPalette.ColorRole.Light: colours.surface, QPalette.ColorRole.Midlight: colours.surface,
        QPalette.ColorRole.Mid: colours.grid, QPalette.ColorRole.Dark: colours.grid,
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        result.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, role, QColor(colours.muted))
    return result


def apply(scheme: Scheme) -> None:
    """Use ``scheme``'s palette in every window of this application, now."""
    global _applied
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("theme.apply needs the QApplication")
    if scheme is Scheme.DARK and app.style().name().lower() in _FIXED_COLOUR_STYLES:
        app.setStyle("Fusion")
    _applied = scheme
    app.setPalette(palette(PALETTES[scheme]))
    log.info("colour scheme: %s", scheme.value)


def follow(choice: str = SYSTEM) -> Scheme:
    """Apply ``choice`` (``light``/``dark``), or with ``system`` the OS's scheme and every later change of it."""
    global _following, _connected
    _following = choice not in (Scheme.LIGHT.value, Scheme.DARK.value)
    scheme = os_scheme() if _following else Scheme(choice)
    apply(scheme)
    if _following and not _connected:
        _connected = True
        QGuiApplication.styleHints().colorSchemeChanged.connect(_os_changed)
    return scheme


def _os_changed(hint: Qt.ColorScheme) -> None:
    if _following:
        apply(_scheme_of(hint))


def colors() -> Colors:
    """The colours in use. When no palette was applied (a widget built on its own, in a test) the one that
    matches the application's current palette, so a chart never paints light bars on a dark window."""
    if _applied is not None:
        return PALETTES[_applied]
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    return DARK if window.lightness() < 128 else LIGHT
