"""Coloured-dot icons drawn with QPainter: no image files to ship, and one colour table (``ui.present``)."""

from __future__ import annotations

import functools

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

SIZES = (16, 22, 24, 32, 48, 64)  # the tray picks the size it needs: Windows 16/32, X11 22/24, macOS 32


def dot_pixmap(colour: str, size: int) -> QPixmap:
    """A filled circle with a darker rim, readable on light and dark panels alike."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(colour)
    rim = max(1.0, size / 12)
    painter.setPen(QPen(fill.darker(160), rim))
    painter.setBrush(fill)
    inset = rim / 2 + size * 0.08
    painter.drawEllipse(QRectF(inset, inset, size - 2 * inset, size - 2 * inset))
    painter.end()
    return pixmap


@functools.cache
def dot_icon(colour: str) -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(dot_pixmap(colour, size))
    return icon
