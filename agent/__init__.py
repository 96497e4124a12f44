"""The activity agent core: counts input, decides the work state, fills per-minute slots into a local outbox.

Nothing here imports Qt or a network library (a test enforces it), so the core runs headless and the sync and
tray layers build on it. Other packages use only the names below.
"""

from agent.outbox import Batch, Outbox
from agent.runner import Runner
from agent.states import PresenceChange, WorkState

__all__ = ["Batch", "Outbox", "PresenceChange", "Runner", "WorkState"]
