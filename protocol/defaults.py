"""The defaults both sides start from, named once: a team's idle threshold and upload interval.

The server stores them for a new team (``server.models.Team``, ``staffpulse-server teams create``); the agent
uses them until the team's own values arrive with ``GET /me``, and for its own settings and options. Both are
seconds, and both stay inside the same range wherever a person or IT can set them.
"""

IDLE_THRESHOLD_S = 300  # no input for this long counts as idle, backdated to the last input
SYNC_INTERVAL_S = 300  # how often an agent uploads its closed minutes
INTERVAL_RANGE_S = (60, 3600)  # the bounds of either, for a team, the user's settings and IT's policy
