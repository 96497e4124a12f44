"""The tray app and team window (PySide6): the only package that imports Qt.

Entry point: ``run_tray_app`` (``ui.app``), started by ``staffpulse`` when there is a display. Plain-Python
presentation rules live in ``ui.present`` and ``ui.preferences`` so they are tested without Qt.
"""
