"""Qt under the Windows Python in Wine: run by ``test_qt_windows.py`` as ``python.exe qt_probe.py TITLE DONE``.

Imports QtCore, QtGui and QtWidgets, starts a QApplication (on Qt's default platform for Windows), asks ICU
for its converters (Qt6Core's ``ucnv_*`` calls go through the test prefix's ``icuuc.dll`` to ICU's code and
data), and shows a window titled TITLE. It prints what it saw as one JSON line, then keeps the window up,
processing events, until the file DONE exists (the test creates it once it has found the window on X).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QStringConverter, QStringDecoder, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

WAIT_S = 60


def main(title: str, done: Path) -> None:
    app = QApplication(sys.argv[:1])
    decoder = QStringDecoder("Shift_JIS")
    label = QLabel("StaffPulse on Qt's windows platform")
    label.setWindowTitle(title)
    label.resize(320, 120)
    label.show()
    app.processEvents()
    print(json.dumps({"qt": qVersion(), "platform": QGuiApplication.platformName(),
                      "screens": [screen.size().toTuple() for screen in QGuiApplication.screens()],
                      "codecs": QStringConverter.availableCodecs(), "shift_jis": decoder.isValid(),
                      "window_visible": label.isVisible(), "window_id": int(label.winId())}), flush=True)
    deadline = time.monotonic() + WAIT_S
    while not done.exists() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
