"""About StaffPulse: who this device is enrolled as, the team, the version, the server, the device number and
where the data and the log are (``ui.about_facts`` words them). Reached from the window's StaffPulse menu, so
it is there without a system tray too. Values are selectable: people read them out to IT or paste them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui import brand
from ui.icons import mark_icon

MARK_PX = 48
WIDTH_EM = 38  # wide enough for a login and a usual folder path on one line; measured in the dialog's font


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About StaffPulse")
        mark = QLabel()
        mark.setPixmap(mark_icon(brand.BRAND).pixmap(MARK_PX, MARK_PX))
        title = QLabel("<b>StaffPulse</b><br>Team presence and activity time, counted on this computer.")
        title.setWordWrap(True)
        heading = QHBoxLayout()
        heading.addWidget(mark, 0, Qt.AlignmentFlag.AlignTop)
        heading.addWidget(title, 1, Qt.AlignmentFlag.AlignTop)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # long paths at 150 % scale
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addLayout(self.form)
        layout.addStretch()  # a wrapped row's height settles after the first layout: spare room goes here
        layout.addWidget(buttons)
        self.values: dict[str, QLabel] = {}
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * WIDTH_EM)

    def show_rows(self, rows: list[tuple[str, str]]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.values = {}
        for label, value in rows:
            shown = QLabel(value)
            shown.setTextFormat(Qt.TextFormat.PlainText)  # names come from the server: never markup
            shown.setWordWrap(True)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(f"{label}:", shown)
            self.values[label] = shown
        width = self.width() if self.isVisible() else self.minimumWidth()
        self.resize(width, self.heightForWidth(width))  # as tall as the wrapped rows need at this width
