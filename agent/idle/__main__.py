"""Manual check on a real machine: ``python -m agent.idle`` prints what the OS idle backend reports."""

import sys

from agent.idle import select_backend

backend = select_backend(sys.platform)()
print(f"{type(backend).__name__}: idle {backend.idle_seconds():.1f} s, locked {backend.locked()}")
