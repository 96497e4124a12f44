"""The agent's one exception tree, so callers can catch the agent's own failures and nothing else::

AgentError
 ├── IdleUnavailable        this machine has no usable OS idle source (wrong OS, no X display, Wayland)
 ├── PolicyUnreadable       IT's policy source exists but cannot be read at all (agent.policy)
 └── CheckpointUnreadable   the tracker checkpoint is of an unknown version or malformed (agent.checkpoint)
"""


class AgentError(Exception):
    """Base class of every exception the agent raises on purpose."""


class IdleUnavailable(AgentError):
    """The OS idle source cannot be used here; the caller falls back to the time since the last input event."""


class PolicyUnreadable(AgentError):
    """The whole policy source could not be read (a broken file, a registry error); the message says what."""


class CheckpointUnreadable(AgentError):
    """The stored tracker checkpoint cannot be read as it was meant; the caller starts afresh (and says so)
    rather than misread it."""
