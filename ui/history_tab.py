"""The History tab: a day or a week, of one member or the whole team, read from the server off the GUI thread.

What is shown is decided in ``ui.history_view`` (Qt-free); the reads are ``ui.history_reads``, run by the
``Runner`` the app hands over (``TrayApp._background``: ``ui.worker.background`` that drops results after Quit).
Every change of date, span or member asks again; an answer that arrives after a newer question is dropped, so
a slow read can never overwrite what the person picked last. Members get only "Me" in the picker and read their
own days; managers and admins pick "Whole team" or a member of the team answer.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from protocol.schema import MemberDay, Totals
from ui import history_view as view
from ui.export_dialog import ExportDialog, python_date, qt_date
from ui.history_charts import StackedBars
from ui.history_reads import Answer, Clients, Runner, Viewer, read, with_client
from ui.history_view import Period, Span
from ui.present import duration, percent

log = logging.getLogger(__name__)
HOURS_LABEL_EVERY = 3
MEMBER_COLUMNS = ("Member", "Active", "Idle", "Breaks", "Activity", "First", "Last")


class HistoryTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer: Viewer | None = None
        self._clients: Clients | None = None
        self._run: Runner | None = None
        self._asked = 0  # the latest question's number: older answers are dropped
        self.answer: Answer | None = None
        self.period = Period.of(Span.DAY, date.today())

        self.span = QComboBox()
        self.span.addItems([span.value for span in Span])
        self.previous, self.next = QPushButton("◀ Previous"), QPushButton("Next ▶")
        self.date = QDateEdit()
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.member = QComboBox()
        self.export = QPushButton("Export…")
        controls = QHBoxLayout()
        for widget in (self.span, self.previous, self.date, self.next, self.member):
            controls.addWidget(widget)
        controls.addStretch()
        controls.addWidget(self.export)

        self.title = QLabel()
        self.status = QLabel("History appears here once this device is enrolled and connected.")
        self.status.setWordWrap(True)
        self.active, self.idle, self.breaks, self.activity = QLabel("—"), QLabel("—"), QLabel("—"), QLabel("—")
        self.first, self.last = QLabel("—"), QLabel("—")
        self.form = QFormLayout()
        for label, figure in (("Active:", self.active), ("Idle:", self.idle), ("Breaks:", self.breaks),
                              ("Activity:", self.activity), ("First activity:", self.first),
                              ("Last activity:", self.last)):
            self.form.addRow(label, figure)
        self.chart_title = QLabel()
        self.chart = StackedBars()
        self.members = QTableWidget(0, len(MEMBER_COLUMNS))
        self.members.setHorizontalHeaderLabels(MEMBER_COLUMNS)
        self.members.verticalHeader().hide()
        self.members.horizontalHeader().setStretchLastSection(True)
        self.members.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(self.form)
        layout.addWidget(self.chart_title)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.members, 1)
        self._set_date(self.period.start)

        self.span.currentTextChanged.connect(lambda text: self._pick(Period.of(Span(text), self.period.start)))
        self.previous.clicked.connect(lambda: self._pick(self.period.step(-1)))
        self.next.clicked.connect(lambda: self._pick(self.period.step(1)))
        self.date.dateChanged.connect(lambda qdate: self._pick(Period.of(self.period.span, python_date(qdate))))
        self.member.currentIndexChanged.connect(lambda _index: self._render())
        self.export.clicked.connect(self.open_export)
        self.setEnabled(False)

    # --- what the app hands over -------------------------------------------------------------------------

    def attach(self, viewer: Viewer, clients: Clients, run: Runner) -> None:
        """Who reads (from ``/me``), how to reach the server, and how to run a read off the GUI thread."""
        first = self.viewer is None or (self.viewer.user_id, self.viewer.manages) != (viewer.user_id, viewer.manages)
        self.viewer, self._clients, self._run = viewer, clients, run
        self.setEnabled(True)
        if first:  # again at each reconnect: keep what the person picked; not a demoted manager's team figures
            self.answer = None
            self._set_date(self.today())
            self.period = Period.of(self.period.span, self.today())
            self._fill_members([])
            self._figures(Totals())
            self._member_rows([])
        if self.isVisible():  # otherwise showEvent reads: nobody looks at a hidden tab, so the server is not asked
            self.load()

    def today(self) -> date:
        """Today in the account's zone: the zone the server's days are cut in."""
        zone = ZoneInfo(self.viewer.time_zone) if self.viewer else None
        return datetime.now(zone).date()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.load()  # coming back to the tab: today's figures have moved on

    # --- reading ---------------------------------------------------------------------------------------------

    def _pick(self, period: Period) -> None:
        if period == self.period:
            return
        self.period = period
        self._set_date(period.start)
        self.load()

    def load(self) -> None:
        if self.viewer is None or self._clients is None or self._run is None:
            return
        self._asked += 1
        asked, viewer, clients, period = self._asked, self.viewer, self._clients, self.period
        self.next.setEnabled(period.step(1).start <= self.today())  # nothing recorded in the future
        self.status.setText("Reading…")
        self.status.show()
        self._run(lambda: with_client(clients, lambda client: read(client, viewer, period)),
                  lambda result: self._answered(asked, result), "history-read")

    def _answered(self, asked: int, result: object) -> None:
        if asked != self._asked:
            return
        if isinstance(result, BaseException):
            log.warning("history read failed: %s", result)
            self.answer = None
            self.status.setText(view.problem_words(result))
            return
        assert isinstance(result, Answer)
        self.answer = result
        self._fill_members([(row.user_id, row.name) for row in result.days or result.ranges])
        self._render()

    # --- showing ---------------------------------------------------------------------------------------------

    def picked(self) -> int | None:
        """The member picked: a user id, or None for the whole team."""
        data = self.member.currentData()
        return data if isinstance(data, int) else None

    def _fill_members(self, members: list[tuple[int, str]]) -> None:
        if self.viewer is None:
            return
        entries: list[tuple[str, int | None]] = [("Me", self.viewer.user_id)]
        if self.viewer.manages:
            entries = [(view.WHOLE_TEAM, None), *((name, uid) for uid, name in sorted(members, key=lambda m: m[1]))]
        if [(self.member.itemText(i), self.member.itemData(i)) for i in range(self.member.count())] == entries:
            return
        keep = self.picked()
        self.member.blockSignals(True)
        self.member.clear()
        for text, data in entries:
            self.member.addItem(text, data)
        self.member.setCurrentIndex(max(0, self.member.findData(keep)) if keep is not None else 0)
        self.member.blockSignals(False)
        self.member.setEnabled(len(entries) > 1)

    def _render(self) -> None:
        answer = self.answer
        if answer is None or answer.period != self.period:
            return
        who = self.picked()
        self.title.setText(f"{answer.period.title()} · {self.member.currentText()}")
        if answer.period.span is Span.DAY:
            rows = view.pick(answer.days, who)
            day = view.day_view(rows)
            self._figures(day.totals, first=day.first, last=day.last)
            self.chart_title.setText("Time per hour of the day")
            self.chart.set_bars(day.hours, label_every=HOURS_LABEL_EVERY)
            self._member_rows(rows if who is None and self.viewer and self.viewer.manages else [])
        else:
            members = view.pick(answer.ranges, who)
            week = view.week_view(members, answer.period)
            self._figures(week.totals, trends=week.trends)
            self.chart_title.setText("Time per day")
            self.chart.set_bars(week.days)
            self._member_rows([])
            rows = [day for member in members for day in member.days if answer.period.start <= day.date]
        empty = view.empty_text(rows, answer.period, self.today(), answer.retention)
        self.status.setText(empty or "")
        self.status.setVisible(bool(empty))

    def _figures(self, totals: Totals, *, first: str = "—", last: str = "—",
                 trends: list[str] | None = None) -> None:
        """The figures; in a week each with its trend ("31 h 20 min, +2 h 05 min vs previous week")."""
        texts = trends or [duration(totals.active_s), duration(totals.idle_s), duration(totals.break_s),
                           percent(totals.activity_pct)]
        for label, text in zip((self.active, self.idle, self.breaks, self.activity), texts, strict=True):
            label.setText(text)
        for row in (4, 5):
            self.form.setRowVisible(row, self.period.span is Span.DAY)
        self.first.setText(first)
        self.last.setText(last)

    def _member_rows(self, rows: list[MemberDay]) -> None:
        """The whole team's day: one line per member, so a manager sees who did what without picking each."""
        self.members.setVisible(bool(rows))
        self.members.setRowCount(len(rows))
        for index, row in enumerate(sorted(rows, key=lambda r: r.name)):
            one = view.day_view([row])
            values = (row.name, duration(row.totals.active_s), duration(row.totals.idle_s),
                      duration(row.totals.break_s), percent(row.totals.activity_pct), one.first, one.last)
            for column, value in enumerate(values):
                self.members.setItem(index, column, QTableWidgetItem(value))
        self.members.resizeColumnsToContents()

    def _set_date(self, day: date) -> None:
        self.date.blockSignals(True)
        self.date.setDate(qt_date(day))
        self.date.blockSignals(False)

    # --- export ------------------------------------------------------------------------------------------------

    def open_export(self) -> ExportDialog | None:
        if self.viewer is None or self._clients is None or self._run is None:
            return None
        members = [(self.member.itemText(i), self.member.itemData(i)) for i in range(self.member.count())]
        dialog = ExportDialog(self, members, self.period, self._clients, self._run)
        dialog.open()
        return dialog
