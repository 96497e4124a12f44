"""The question after an idle spell: keep it as work, mark it as a break, or discard it.

Non-modal, so the window and the tray keep working while it is open; the buttons only emit ``answered``, and
``ui.app`` hands the answer to the agent off the GUI thread. Closing it without an answer is no answer: after
``agent.returning.ANSWER_WAIT_S`` the agent keeps the time as idle and the prompt goes away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from agent.returning import IdleAnswer

BUTTONS = ((IdleAnswer.KEEP, "Keep as work"), (IdleAnswer.BREAK, "Mark as break"), (IdleAnswer.DISCARD, "Discard"))


class IdlePrompt(QDialog):
    answered = Signal(object)  # agent.returning.IdleAnswer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome back — StaffPulse")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.buttons: dict[IdleAnswer, QPushButton] = {}
        row = QHBoxLayout()
        for answer, words in BUTTONS:
            button = QPushButton(words)
            button.clicked.connect(lambda _checked=False, chosen=answer: self._choose(chosen))
            row.addWidget(button)
            self.buttons[answer] = button
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addLayout(row)

    def ask(self, question: str) -> None:
        self.question.setText(question)
        for button in self.buttons.values():
            button.setEnabled(True)
        self.show()
        self.raise_()

    def _choose(self, answer: IdleAnswer) -> None:
        for button in self.buttons.values():
            button.setEnabled(False)  # one answer per question
        self.hide()
        self.answered.emit(answer)
