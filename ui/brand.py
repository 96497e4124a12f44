"""The StaffPulse mark and the colour arithmetic that keeps it readable, in plain Python (no Qt, no imports).

The mark is a disc with a pulse line across it: the disc carries the state's colour (``ui.present.TrayLook``),
the line is the brand, the same in every state. Two painters draw it from this one description: ``ui.icons``
with QPainter for the tray, and ``installer.icon`` pixel by pixel for the exe's and the app bundle's icon
(that one runs on a build machine with nothing but the interpreter, hence no imports here).

The line is white on dark discs and near-black on light ones (``ink``), chosen by WCAG contrast, so the mark
stays legible on the light grey "offline" disc as on the green "active" one. The disc's darker rim is what
separates it from a light taskbar; its fill, from a dark one.
"""

from __future__ import annotations

#: The pulse line through the disc, in the unit square (x right, y down): flat, a beat up and down, flat.
PULSE = ((0.14, 0.55), (0.36, 0.55), (0.45, 0.27), (0.57, 0.78), (0.66, 0.55), (0.86, 0.55))
#: The line's width as a share of the icon's side, and its least width in pixels (a 16 px tray icon).
PULSE_WIDTH, PULSE_MIN_PX = 0.11, 1.7
#: The disc's radius as a share of the side; its rim's width as a share of the side (at least one pixel).
DISC_RADIUS, RIM_WIDTH = 0.47, 1 / 12
#: The rim is the fill with each channel multiplied by this (Qt's ``darker(160)`` is the same ratio).
RIM_FACTOR = 1 / 1.6
LIGHT_INK, DARK_INK = "#ffffff", "#1d2126"
#: WCAG 2's least contrast for graphics (1.4.11): lines, dots, bars.
GRAPHIC_CONTRAST = 3.0
#: The brand colour: the "active" green, which is also the exe's icon.
BRAND = "#2e9d47"


def rgb(colour: str) -> tuple[int, int, int]:
    """``#2e9d47`` → (46, 157, 71)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def hex_colour(channels: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in channels)


def rim(colour: str) -> str:
    red, green, blue = rgb(colour)
    return hex_colour((red * RIM_FACTOR, green * RIM_FACTOR, blue * RIM_FACTOR))


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance, 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio, 1 (same) to 21 (black on white); 3 is the least for graphics, 4.5 for text."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ink(fill: str) -> str:
    """The pulse line's colour on a disc of ``fill``: white where it reads (contrast 3 or more, the brand's
    look), near-black on light discs (amber "idle", light grey "offline")."""
    return LIGHT_INK if contrast(fill, LIGHT_INK) >= GRAPHIC_CONTRAST else DARK_INK
