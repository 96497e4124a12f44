"""The StaffPulse team server: FastAPI REST + python-socketio live events over one ASGI app.

``server.app.create_app`` builds the app from ``server.config.Settings``; ``server.cli`` is the command line.
"""

__version__ = "0.1.0"
