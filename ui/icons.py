"""Icons drawn with QPainter: no image files to ship, and one colour table (``ui.present``).

``mark_icon`` is the tray's: the StaffPulse mark (``ui.brand``: a disc with a pulse line) in the colour of a
state. ``dot_icon`` is the plain dot the team table shows beside a state.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from ui import brand

SIZES = (16, 22, 24, 32, 48, 64)  # the tray picks the size it needs: Windows 16/32, X11 22/24, macOS 32


def _disc(painter: QPainter, colour: str, size: int) -> None:
    """A filled circle with a darker rim: the rim reads on light panels, the fill on dark ones."""
    rim = max(1.0, size * brand.RIM_WIDTH)
    painter.setPen(QPen(QColor(brand.rim(colour)), rim))
    painter.setBrush(QColor(colour))
    inset = size / 2 - size * brand.DISC_RADIUS + rim / 2
    painter.drawEllipse(QRectF(inset, inset, size - 2 * inset, size - 2 * inset))


def _canvas(size: int) -> tuple[QPixmap, QPainter]:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pixmap, painter


def dot_pixmap(colour: str, size: int) -> QPixmap:
    pixmap, painter = _canvas(size)
    _disc(painter, colour, size)
    painter.end()
    return pixmap


def mark_pixmap(colour: str, size: int) -> QPixmap:
    """The brand mark on a disc of ``colour``; the line in ``brand.ink`` so it reads on light discs too."""
    pixmap, painter = _canvas(size)
    _disc(painter, colour, size)
    line = QPainterPath()
    first, *rest = brand.PULSE
    line.moveTo(QPointF(first[0] * size, first[1] * size))
    for x, y in rest:
        line.lineTo(QPointF(x * size, y * size))
    pen = QPen(QColor(brand.ink(colour)), max(brand.PULSE_MIN_PX, size * brand.PULSE_WIDTH))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(line)
    painter.end()
    return pixmap


@functools.cache
def dot_icon(colour: str) -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(dot_pixmap(colour, size))
    return icon


@functools.cache
def mark_icon(colour: str) -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(mark_pixmap(colour, size))
    return icon
