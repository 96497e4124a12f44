"""Export: a member's or the team's days over a date range, as CSV or JSON, to a file the person picks.

The rows come from ``protocol.export`` for the server's answer (``ui.history_reads.export_text``), so the file
has the numbers the window and ``staffpulse-server report`` show. Reading and writing run on a worker thread;
the dialog stays usable and says the result, or what went wrong and what to do, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ui.history_reads import Clients, ExportRequest, Format, Runner, export_text, range_problem, with_client
from ui.history_view import Period, problem_words

log = logging.getLogger(__name__)


def qt_date(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def python_date(qdate: QDate) -> date:
    return date(qdate.year(), qdate.month(), qdate.day())


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, members: Sequence[tuple[str, int | None]], period: Period,
                 clients: Clients, run: Runner) -> None:
        """``members``: the picker's entries (shown name, user id or None for the whole team)."""
        super().__init__(parent)
        self.setWindowTitle("Export history")
        self.setMinimumWidth(440)  # room for the result sentence
        self._clients, self._run = clients, run
        self.start, self.end = QDateEdit(qt_date(period.start)), QDateEdit(qt_date(period.end))
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.who = QComboBox()
        for text, data in members:
            self.who.addItem(text, data)
        self.format = QComboBox()
        self.format.addItems([fmt.value for fmt in Format])
        self.path = QLineEdit()
        self.path.setPlaceholderText("Choose where to save the file")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_file)
        where = QHBoxLayout()
        where.addWidget(self.path)
        where.addWidget(choose)
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.save.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("From:", self.start)
        form.addRow("To:", self.end)
        form.addRow("Who:", self.who)
        form.addRow("Format:", self.format)
        form.addRow("File:", where)
        form.addRow(self.outcome)
        form.addRow(self.buttons)

    def request(self) -> ExportRequest:
        data = self.who.currentData()
        return ExportRequest(python_date(self.start.date()), python_date(self.end.date()),
                             data if isinstance(data, int) else None, Format(self.format.currentText()))

    def choose_file(self) -> None:
        fmt = Format(self.format.currentText())
        suffix = fmt.value.lower()
        name, _filter = QFileDialog.getSaveFileName(self, "Export history", self.path.text() or f"history.{suffix}",
                                                    f"{fmt.value} files (*.{suffix})")
        if name:
            self.path.setText(name)

    def export(self) -> None:
        request, target = self.request(), self.path.text().strip()
        problem = range_problem(request.start, request.end)
        if problem is None and not target:
            problem = "Choose a file to save to first."
        if problem is not None:
            self.outcome.setText(problem)
            return
        path, clients = Path(target), self._clients

        def work() -> int:
            text = with_client(clients, lambda client: export_text(client, request))
            path.write_text(text, encoding="utf-8", newline="")
            return (request.end - request.start).days + 1

        self.save.setEnabled(False)
        self.outcome.setText("Exporting…")
        self._run(work, lambda result: self._done(result, path), "history-export")

    def _done(self, result: object, path: Path) -> None:
        self.save.setEnabled(True)
        if isinstance(result, BaseException):
            log.warning("export to %s failed: %s", path, result)
            self.outcome.setText(f"Not exported. {problem_words(result)}")
            return
        self.outcome.setText(f"Saved {result} days of {self.who.currentText()} to {path}.")
