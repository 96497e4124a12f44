"""The agent's one exception tree, so callers can catch the agent's own failures and nothing else::

AgentError
 └── IdleUnavailable   this machine has no usable OS idle source (wrong OS, no X display, Wayland)
"""


class AgentError(Exception):
    """Base class of every exception the agent raises on purpose."""


class IdleUnavailable(AgentError):
    """The OS idle source cannot be used here; the caller falls back to the time since the last input event."""
