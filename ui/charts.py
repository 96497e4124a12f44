"""The Me tab's per-hour bar chart, drawn with QPainter (a chart library would be a large dependency for 24
bars). Each bar is the hour's active time (full height = 60 minutes); its darker core the seconds with input.
A minute scale on the left (0, 30, 60 min with grid lines), the hours under the bars, and the legend drawn in
the chart itself, so a screenshot of it reads alone."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from ui import theme

LABEL_EVERY = 3  # hours between axis labels
SCALE_MINUTES = (0, 30, 60)  # the minute scale's marks
LEGEND = (("active", 150), ("with input", 100))  # the words and the colour's lightness (QColor.lighter)


class HourlyChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hours: list[tuple[int, int]] = [(0, 0)] * 24
        self.setMinimumHeight(140)

    def set_hours(self, hours: Sequence[tuple[int, int]]) -> None:
        self.hours = list(hours)
        self.setToolTip("\n".join(f"{hour:02d}:00  {active // 60} min active"
                                  for hour, (active, _typed) in enumerate(self.hours) if active))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 160)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 140)

    def plot(self) -> QRectF:
        """Where the bars go: right of the minute scale, between the legend and the hour labels."""
        metrics = QFontMetrics(self.font())
        line_h = metrics.height() + 2
        axis_w = metrics.horizontalAdvance("60 min") + 6
        return QRectF(axis_w, line_h + 4, self.width() - axis_w, self.height() - 2 * line_h - 6)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        colours = theme.colors()  # read at each paint: a change of light/dark repaints with the new palette
        text, active_colour = QColor(colours.muted), QColor(colours.active)
        line_h = metrics.height() + 2
        plot = self.plot()
        axis_w = plot.left()

        x = plot.left()  # the legend, above the plot
        for words, lightness in LEGEND:
            painter.fillRect(QRectF(x, 3, 10, line_h - 6), active_colour.lighter(lightness))
            painter.setPen(text)
            painter.drawText(QRectF(x + 14, 0, metrics.horizontalAdvance(words) + 4, line_h),
                             Qt.AlignmentFlag.AlignVCenter, words)
            x += 14 + metrics.horizontalAdvance(words) + 16

        for minutes in SCALE_MINUTES:  # the minute scale and its grid lines
            y = plot.bottom() - plot.height() * minutes / 60
            painter.setPen(QColor(colours.grid))
            painter.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - line_h / 2, axis_w - 4, line_h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{minutes} min")

        step = plot.width() / len(self.hours)
        painter.setPen(Qt.PenStyle.NoPen)
        for hour, (active, typed) in enumerate(self.hours):
            bar_x, bar_w = plot.left() + hour * step + step * 0.15, step * 0.7
            painter.setBrush(QColor(colours.surface))  # the empty hour's track
            painter.drawRect(QRectF(bar_x, plot.top(), bar_w, plot.height()))
            for seconds, lightness in ((active, LEGEND[0][1]), (typed, LEGEND[1][1])):
                painter.setBrush(active_colour.lighter(lightness))
                bar_h = plot.height() * min(seconds, 3600) / 3600
                painter.drawRect(QRectF(bar_x, plot.bottom() - bar_h, bar_w, bar_h))
        painter.setPen(text)
        for hour in range(0, len(self.hours), LABEL_EVERY):
            painter.drawText(QRectF(plot.left() + hour * step, plot.bottom() + 2, step * LABEL_EVERY, line_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{hour:02d}")
        painter.end()
