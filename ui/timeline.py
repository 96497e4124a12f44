"""The day as a strip of minutes (active / idle / break / offline, like ActivityWatch's timeline), painted with
QPainter: in the Team tab's "Today" column (``TimelineDelegate``), as the Me tab's own strip with an hour axis
(``TimelineStrip``), and the legend both share (``Legend``). What to paint comes from ``ui.day_view``."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from protocol.schema import MinuteMark
from ui import theme
from ui.day_view import MARK_STATES, MARK_WORDS, Strip
from ui.icons import dot_pixmap

STRIP_ROLE = Qt.ItemDataRole.UserRole + 1  # a model's ``Strip`` (or None) for the "Today" column
STALE_ROLE = Qt.ItemDataRole.UserRole + 2  # True while the view is not live: painted faded
NOW_COLOUR = "#d0342c"
HOURS_EVERY = 3  # hours between axis labels
STALE_OPACITY = 0.35


def paint_strip(painter: QPainter, rect: QRectF, strip: Strip, *, faded: bool = False) -> None:
    """The day's runs across ``rect`` (its width is the whole local day) and a "now" line."""
    total = len(strip.timeline)
    if not total or rect.width() <= 0:
        return
    painter.save()
    if faded:
        painter.setOpacity(STALE_OPACITY)
    painter.setPen(Qt.PenStyle.NoPen)
    scale = rect.width() / total
    colours = theme.colors()  # read at each paint: a change of light/dark repaints with the new palette
    for segment in strip.segments:
        painter.setBrush(QColor(colours.state(MARK_STATES[segment.mark])))
        # at least a pixel wide: a single active minute in a 200 px column must still show
        painter.drawRect(QRectF(rect.left() + segment.start * scale, rect.top(), max(segment.length * scale, 1.0),
                                rect.height()))
    if strip.now is not None:
        x = rect.left() + (strip.now + 1) * scale
        painter.setOpacity(1.0)
        painter.setPen(QColor(NOW_COLOUR))
        painter.drawLine(QPointF(x, rect.top() - 2), QPointF(x, rect.bottom() + 2))
    painter.restore()


class TimelineDelegate(QStyledItemDelegate):
    """Paints the "Today" column's strip inside the cell, over the row's usual background (selection shows)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        strip = index.data(STRIP_ROLE)
        if not isinstance(strip, Strip):
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget is not None else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        cell: QRect = option.rect
        inner = QRectF(cell).adjusted(4, cell.height() * 0.25, -4, -cell.height() * 0.25)
        paint_strip(painter, inner, strip, faded=bool(index.data(STALE_ROLE)))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(180, super().sizeHint(option, index).height())


class TimelineStrip(QWidget):
    """The reader's own day (Me tab): the strip over an hour axis (labels every ``HOURS_EVERY`` hours, a tick
    each hour), so a run can be read off as "from about 9 to 11"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strip: Strip | None = None
        self.setMinimumHeight(44)

    def set_strip(self, strip: Strip | None) -> None:
        self.strip = strip
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 48)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 44)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        label_h = painter.fontMetrics().height() + 2
        bar = QRectF(0, 2, self.width(), self.height() - label_h - 6)
        colours = theme.colors()
        painter.fillRect(bar, QColor(colours.surface))
        if self.strip is not None:
            paint_strip(painter, bar, self.strip)
        hours = len(self.strip.timeline) // 60 if self.strip is not None and self.strip.timeline else 24
        painter.setPen(QColor(colours.muted))
        step = self.width() / hours
        for hour in range(hours + 1):
            x = hour * step
            painter.drawLine(int(x), int(bar.bottom()), int(x), int(bar.bottom()) + (4 if hour % HOURS_EVERY else 6))
            if hour % HOURS_EVERY == 0 and hour < hours:
                painter.drawText(QRectF(x, bar.bottom() + 4, step * HOURS_EVERY, label_h),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{hour:02d}")
        painter.end()


class Legend(QWidget):
    """Dots in the strip's colours with their words, and the "now" line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for mark in (MinuteMark.ACTIVE, MinuteMark.IDLE, MinuteMark.BREAK, MinuteMark.NONE):
            dot = QLabel()
            dot.setPixmap(dot_pixmap(theme.colors().state(MARK_STATES[mark]), 12))  # the palette at start
            layout.addWidget(dot)
            layout.addWidget(QLabel(MARK_WORDS[mark]))
        now = QLabel(f'<span style="color:{NOW_COLOUR}">│</span> now')
        layout.addWidget(now)
        layout.addStretch()
