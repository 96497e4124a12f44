"""The StaffPulse team server: FastAPI REST + python-socketio live events over one ASGI app.

``server.app.create_app`` builds the app from ``server.config.Settings``; ``server.cli`` is the command line.
"""

from protocol.version import VERSION as __version__

__all__ = ["__version__"]
