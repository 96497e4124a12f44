"""The look: the tray icon is the StaffPulse mark in the state's colour, readable at tray sizes on light and dark
taskbars and the same mark as the exe's icon; the light and dark palettes keep their colours readable and follow
the OS while running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from installer import icon as exe_icon
from protocol.schema import PresenceState
from sync.settings import AgentSettings
from ui import brand, preferences, theme
from ui.charts import HourlyChart
from ui.icons import mark_pixmap
from ui.palettes import DARK, LIGHT, PALETTES, Scheme
from ui.present import TrayLook
from ui.settings_dialog import SettingsDialog

TRAY_SIZES = (16, 24, 32)
TASKBARS = {"light": "#f3f3f3", "dark": "#202020"}  # Windows 11's taskbars; GNOME's and macOS' are near these


def over(image: QImage, x: int, y: int, background: str) -> str:
    """The pixel as the taskbar shows it: the icon's colour blended over ``background`` by its alpha."""
    pixel, under = image.pixelColor(x, y), QColor(background)
    alpha = pixel.alphaF()
    return brand.hex_colour(tuple(p * alpha + u * (1 - alpha) for p, u in (  # type: ignore[arg-type]
        (pixel.red(), under.red()), (pixel.green(), under.green()), (pixel.blue(), under.blue()))))


def pixels(image: QImage) -> list[tuple[int, int]]:
    return [(x, y) for x in range(image.width()) for y in range(image.height())]


@pytest.mark.parametrize("size", TRAY_SIZES)
@pytest.mark.parametrize("look", list(TrayLook))
def test_the_tray_icon_is_the_mark_readable_on_light_and_dark_taskbars(qapp: QApplication, look: TrayLook,
                                                                       size: int) -> None:
    image = mark_pixmap(look.colour, size).toImage()
    for name, taskbar in TASKBARS.items():
        edge = max(brand.contrast(over(image, x, y, taskbar), taskbar) for x, y in pixels(image))
        assert edge >= brand.GRAPHIC_CONTRAST, f"{look} at {size} px fades into a {name} taskbar ({edge:.2f})"
    opaque = [(x, y) for x, y in pixels(image) if image.pixelColor(x, y).alpha() == 255]
    fill_shown = sum(image.pixelColor(x, y).name() == QColor(look.colour).name() for x, y in opaque)
    assert fill_shown >= size, f"the state's own colour is visible at {size} px"
    line = [(x, y) for x, y in opaque
            if brand.contrast(image.pixelColor(x, y).name(), look.colour) >= brand.GRAPHIC_CONTRAST]
    assert len(line) >= size // 2, f"the pulse line stands out of the {look} disc at {size} px"
    # the pulse rises and falls: ink above and below the flat line's row
    rows = {y for _x, y in line}
    assert min(rows) < brand.PULSE[0][1] * size - 2 and max(rows) > brand.PULSE[0][1] * size + 2


def test_the_exe_icon_is_the_tray_mark_in_the_brand_colour(qapp: QApplication) -> None:
    size = 32
    drawn = QImage.fromData(exe_icon.png(size))
    tray = mark_pixmap(brand.BRAND, size).toImage()
    assert (drawn.width(), drawn.height()) == (size, size)

    def seen(image: QImage, x: int, y: int) -> tuple[float, ...]:  # premultiplied: a clear pixel has no colour
        pixel = image.pixelColor(x, y)
        return (*(c * pixel.alphaF() for c in (pixel.red(), pixel.green(), pixel.blue())), pixel.alpha())

    agree = sum(max(abs(a - b) for a, b in zip(seen(drawn, x, y), seen(tray, x, y), strict=True)) <= 64
                for x, y in pixels(drawn))
    assert agree / size**2 >= 0.95, f"the two painters draw different marks: only {agree / size**2:.0%} agree"


@pytest.mark.parametrize("scheme", list(Scheme))
def test_each_palette_keeps_states_and_text_readable(scheme: Scheme) -> None:
    colours = PALETTES[scheme]
    for background in (colours.base, colours.window):
        for state in PresenceState:
            ratio = brand.contrast(colours.state(state), background)
            assert ratio >= brand.GRAPHIC_CONTRAST, f"{state} on {scheme} {background}: {ratio:.2f}"
        for name in ("error", "highlight"):
            assert brand.contrast(getattr(colours, name), background) >= brand.GRAPHIC_CONTRAST, name
        for name in ("text", "muted", "link"):
            assert brand.contrast(getattr(colours, name), background) >= 4.5, f"{name} is text: 4.5:1"
    assert brand.contrast(colours.highlight_text, colours.highlight) >= 4.5


@pytest.fixture
def own_theme(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The application's palette and ``ui.theme``'s state as they were, after the test."""
    before = QApplication.palette()
    for name in ("_applied", "_following"):
        monkeypatch.setattr(theme, name, getattr(theme, name))
    yield
    QApplication.setPalette(before)


def test_the_palette_follows_the_os_while_running(qtbot: QtBot, own_theme: None) -> None:
    chart = HourlyChart()
    qtbot.addWidget(chart)
    chart.resize(240, 120)
    chart.show()
    hints = QGuiApplication.styleHints()
    assert theme.follow("system") is Scheme.LIGHT, "offscreen has no OS answer: light"
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == LIGHT.window
    plot = chart.plot()
    empty_hour = QPoint(int(plot.left() + plot.width() / 48), int(plot.top()) + 2)  # the first hour's track
    track = chart.grab().toImage().pixelColor(empty_hour).name()
    assert track == LIGHT.surface, "the chart's empty hour in the light palette"
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what Qt emits when the OS turns dark
    assert theme.colors() is DARK
    assert QApplication.palette().color(QPalette.ColorRole.Base).name() == DARK.base
    qtbot.waitUntil(lambda: chart.grab().toImage().pixelColor(empty_hour).name() == DARK.surface,
                    timeout=2000)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert theme.colors() is LIGHT


def test_a_chosen_scheme_wins_over_the_os(qapp: QApplication, own_theme: None) -> None:
    theme.follow("system")  # listening to the OS, then the person chooses dark
    assert theme.follow("dark") is Scheme.DARK
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert theme.colors() is DARK
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == DARK.window


def test_colours_without_an_applied_theme_match_the_palette(qapp: QApplication, own_theme: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(theme, "_applied", None)
    QApplication.setPalette(theme.palette(DARK))
    assert theme.colors() is DARK
    QApplication.setPalette(theme.palette(LIGHT))
    assert theme.colors() is LIGHT


def test_the_theme_preference_is_read_and_kept_by_settings(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / preferences.FILE_NAME).write_text(json.dumps({"theme": "dark"}))
    assert preferences.load(tmp_path).theme == "dark"
    dialog = SettingsDialog(tmp_path, AgentSettings(), preferences.load(tmp_path), enrolled=False)
    qtbot.addWidget(dialog)
    dialog.notify.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.submit()  # no code: saved on a worker, at once
    assert preferences.load(tmp_path) == preferences.Preferences(notify_breaks=False, theme="dark")
    (tmp_path / preferences.FILE_NAME).write_text(json.dumps({"theme": "purple"}))
    assert preferences.load(tmp_path).theme == "system", "an unknown value means the default"
