"""The History tab's bar chart: stacked active / break / idle time per bar, with a time axis and a legend.

Drawn with QPainter like ``ui/charts.py``. One widget serves both views: 24 hour bars (full scale one hour) for a
day, 7 day bars (scale rounded up to whole hours of the busiest day) for a week.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from protocol.schema import PresenceState
from ui.history_view import Bar
from ui.present import STATE_COLOURS, duration

HOUR_S = 3600
#: Stacked from the bottom in this order; the legend lists them the same way.
SERIES = (("Active", PresenceState.ACTIVE, "active_s"), ("Break", PresenceState.BREAK, "break_s"),
          ("Idle", PresenceState.IDLE, "idle_s"))


class StackedBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: list[Bar] = []
        self.scale_s = HOUR_S
        self.label_every = 1
        self.setMinimumHeight(150)

    def set_bars(self, bars: Sequence[Bar], *, scale_s: int | None = None, label_every: int = 1) -> None:
        """``scale_s``: the axis top in seconds; by default the tallest bar rounded up to whole hours."""
        self.bars = list(bars)
        tallest = max((b.active_s + b.break_s + b.idle_s for b in self.bars), default=0)
        self.scale_s = scale_s or max(HOUR_S, math.ceil(tallest / HOUR_S) * HOUR_S)
        self.label_every = label_every
        self.setToolTip("\n".join(f"{b.label}: {duration(b.active_s)} active, {duration(b.break_s)} break, "
                                  f"{duration(b.idle_s)} idle" for b in self.bars if b.active_s + b.break_s + b.idle_s))
        self.update()

    def axis_labels(self) -> list[str]:
        """The time axis' ticks, bottom to top: minutes for a one-hour scale, hours otherwise."""
        if self.scale_s <= HOUR_S:
            return ["0", "30 min", "60 min"]
        hours = self.scale_s // HOUR_S
        step = max(1, math.ceil(hours / 4))
        return [f"{h} h" for h in range(0, hours + 1, step)]

    def sizeHint(self) -> QSize:
        return QSize(480, 190)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        text = self.palette().text().color()
        metrics = painter.fontMetrics()
        line_h = metrics.height() + 2
        ticks = self.axis_labels()
        axis_w = max(metrics.horizontalAdvance(t) for t in ticks) + 6
        top, bottom = line_h + 4, self.height() - line_h  # legend above, bar labels below
        plot = QRectF(axis_w, top, max(1.0, self.width() - axis_w - 2), max(1.0, bottom - top))

        x = plot.left()  # the legend
        for name, state, _field in SERIES:
            painter.fillRect(QRectF(x, 2, 10, 10), QColor(STATE_COLOURS[state]))
            painter.setPen(text)
            painter.drawText(QRectF(x + 14, 0, 200, line_h), Qt.AlignmentFlag.AlignLeft, name)
            x += 14 + metrics.horizontalAdvance(name) + 16

        painter.setPen(self.palette().mid().color())  # the axis, with its ticks
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        for index, tick in enumerate(ticks):
            y = plot.bottom() - plot.height() * index / max(1, len(ticks) - 1)
            painter.setPen(self.palette().mid().color())
            painter.drawLine(QPointF(plot.left() - 3, y), QPointF(plot.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - line_h / 2, axis_w - 5, line_h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tick)
        if not self.bars:
            painter.end()
            return

        step = plot.width() / len(self.bars)
        painter.setPen(Qt.PenStyle.NoPen)
        for index, bar in enumerate(self.bars):
            left, y = plot.left() + index * step + step * 0.15, plot.bottom()
            for _name, state, field in SERIES:
                height = plot.height() * min(getattr(bar, field), self.scale_s) / self.scale_s
                y -= height
                painter.fillRect(QRectF(left, y, step * 0.7, height), QColor(STATE_COLOURS[state]))
        painter.setPen(text)
        for index in range(0, len(self.bars), self.label_every):
            painter.drawText(QRectF(plot.left() + index * step, plot.bottom(), step * self.label_every, line_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.bars[index].label)
        painter.end()
