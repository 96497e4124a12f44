"""Linux (and any other Unix): a JSON object in /etc/staffpulse/policy.json, written by config management.

The file belongs to root; the agent only reads it. No file means no policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from agent.policy import PolicyUnreadable

DEFAULT_PATH = Path("/etc/staffpulse/policy.json")


class PolicyFile:
    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path
        self.where = str(path)

    def read(self) -> Mapping[str, object]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as problem:  # unreadable, not UTF-8, not JSON
            raise PolicyUnreadable(str(problem)) from None
        if not isinstance(data, dict):
            raise PolicyUnreadable(f"must hold a JSON object, not {type(data).__name__}")
        return data
