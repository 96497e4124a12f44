"""macOS: managed preferences, which an MDM configuration profile for the domain com.staffpulse.agent
installs as /Library/Managed Preferences/com.staffpulse.agent.plist (read with plistlib: no PyObjC needed).

No file means no policy. Per-user profiles land in a sub-folder named for the user; the machine-wide one is
what IT uses for every account, and what this reads.
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from pathlib import Path

from agent.policy import PolicyUnreadable

DOMAIN = "com.staffpulse.agent"
DEFAULT_PATH = Path("/Library/Managed Preferences") / f"{DOMAIN}.plist"


class ManagedPreferences:
    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path
        self.where = str(path)

    def read(self) -> Mapping[str, object]:
        try:
            with self.path.open("rb") as handle:
                data = plistlib.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, plistlib.InvalidFileException, ValueError) as problem:
            raise PolicyUnreadable(str(problem) or type(problem).__name__) from None
        if not isinstance(data, dict):
            raise PolicyUnreadable(f"must hold a dictionary, not {type(data).__name__}")
        return data
