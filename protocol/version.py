"""The release's version, written once.

pyproject.toml reads it (``dynamic = ["version"]``), so the wheel, the frozen app, the MSI and the macOS bundle
carry it; the agent sends it at enrollment (``agent_version``, docs/protocol.md) and the server reports it in
``/healthz``, its OpenAPI description and ``staffpulse-server --version``. It lives in protocol/ because both
sides import protocol/ and nothing else in common.
"""

VERSION = "0.1.0"
