"""The tray app's own preferences (``ui.json`` in the data dir), kept apart from ``settings.json``.

``sync.settings`` refuses unknown fields so a typo there is an error; preferences only the window uses do not
belong in that file. A missing or unreadable file means the defaults: these are conveniences, not policy.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.atomic import write_atomically

log = logging.getLogger(__name__)

FILE_NAME = "ui.json"
THEMES = ("system", "light", "dark")  # what ``ui.theme.follow`` takes: the OS's scheme, or one chosen


@dataclass(frozen=True)
class Preferences:
    notify_breaks: bool = True  # a tray message when a teammate starts or ends a break
    theme: str = "system"  # the window's colours: "system" (follow the OS), "light" or "dark" (ui.theme)


def load(data_dir: Path) -> Preferences:
    path = data_dir / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        theme = raw.get("theme", "system")
        return Preferences(notify_breaks=bool(raw.get("notify_breaks", True)),
                           theme=theme if theme in THEMES else "system")
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("ignoring unreadable %s (%s); using defaults", path, exc)
        return Preferences()


def save(data_dir: Path, preferences: Preferences) -> None:
    """Atomically (``agent.atomic``), so a crash mid-write keeps the old file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(data_dir / FILE_NAME, json.dumps(asdict(preferences)))
