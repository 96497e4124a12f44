"""The window's two palettes, light and dark, as named colours (no Qt: tests check their contrast without a display).

``ui.theme`` applies one to the application and hands the current one to widgets that paint (charts, the
timeline strip): ``theme.colors()``. The state colours differ per palette: the tray's (``ui.present``) are tuned
for a disc with a rim on any taskbar; inside the window a state is a thin bar or a small dot on the palette's
own background, so each palette has a shade of each state that keeps WCAG's 3:1 for graphics on it
(``tests/ui/test_theme.py`` checks every pair).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocol.schema import PresenceState


class Scheme(enum.StrEnum):
    LIGHT = "light"
    DARK = "dark"


@dataclass(frozen=True)
class Colors:
    """Every colour a StaffPulse widget paints with. Hex strings, so they go to ``QColor`` or a style sheet."""

    scheme: Scheme
    window: str  # the window's background
    base: str  # tables' and charts' background
    alternate: str  # every other table row
    surface: str  # empty chart cells, the track behind a bar
    text: str
    muted: str  # axis labels, legends, "as of 14:05"
    grid: str  # chart grid lines and axes
    highlight: str  # selection, the "now" marker
    highlight_text: str
    button: str
    link: str
    active: str
    idle: str
    on_break: str
    away: str
    offline: str
    error: str
    paused: str

    def state(self, state: PresenceState) -> str:
        """The colour of a presence state in this palette (bars, dots, the timeline strip)."""
        return {PresenceState.ACTIVE: self.active, PresenceState.IDLE: self.idle, PresenceState.BREAK: self.on_break,
                PresenceState.PAUSED: self.paused, PresenceState.AWAY: self.away,
                PresenceState.OFFLINE: self.offline}[state]


LIGHT = Colors(
    scheme=Scheme.LIGHT, window="#f3f4f6", base="#ffffff", alternate="#f6f7f9", surface="#e8eaee", text="#1d2126",
    muted="#5c6470", grid="#b9bec6", highlight="#2f6fc4", highlight_text="#ffffff", button="#eceef1",
    link="#1f5fb0", active="#2e9d47", idle="#b07f00", on_break="#2f7fd6", away="#5f656e", offline="#80868f",
    error="#c62f27", paused="#7a5cc2",
)
DARK = Colors(
    scheme=Scheme.DARK, window="#1f2227", base="#181a1e", alternate="#1f2227", surface="#2c3038", text="#e6e8eb",
    muted="#a3aab4", grid="#4a505a", highlight="#3570c0", highlight_text="#ffffff", button="#2a2e35",
    link="#79aef2", active="#46c264", idle="#e6b325", on_break="#5a9cf0", away="#9aa0a9", offline="#6f7680",
    error="#f0605a", paused="#a78bf0",
)
PALETTES = {Scheme.LIGHT: LIGHT, Scheme.DARK: DARK}
