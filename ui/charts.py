"""The Me tab's per-hour bar chart, drawn with QPainter (a chart library would be a large dependency for 24
bars). Each bar is the hour's active time (full height = 60 minutes); its darker core the seconds with input."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from ui import theme

LABEL_EVERY = 3  # hours between axis labels


class HourlyChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hours: list[tuple[int, int]] = [(0, 0)] * 24
        self.setMinimumHeight(110)

    def set_hours(self, hours: Sequence[tuple[int, int]]) -> None:
        self.hours = list(hours)
        self.setToolTip("\n".join(f"{hour:02d}:00  {active // 60} min active"
                                  for hour, (active, _typed) in enumerate(self.hours) if active))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 130)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_h = painter.fontMetrics().height() + 2
        width, height = self.width(), self.height() - label_h
        step = width / len(self.hours)
        colours = theme.colors()  # read at each paint: a change of light/dark repaints with the new palette
        active_colour = QColor(colours.active)
        painter.setPen(Qt.PenStyle.NoPen)
        for hour, (active, typed) in enumerate(self.hours):
            x = hour * step + step * 0.15
            bar_w = step * 0.7
            painter.setBrush(QColor(colours.surface))
            painter.drawRect(QRectF(x, 0, bar_w, height))
            painter.setBrush(active_colour.lighter(150))
            bar_h = height * min(active, 3600) / 3600
            painter.drawRect(QRectF(x, height - bar_h, bar_w, bar_h))
            painter.setBrush(active_colour)
            core_h = height * min(typed, 3600) / 3600
            painter.drawRect(QRectF(x, height - core_h, bar_w, core_h))
        painter.setPen(QColor(colours.muted))
        for hour in range(0, len(self.hours), LABEL_EVERY):
            painter.drawText(QRectF(hour * step, height, step * LABEL_EVERY, label_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{hour:02d}")
        painter.end()
