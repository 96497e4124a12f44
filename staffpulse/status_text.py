"""``staffpulse status`` in words: one ``label: value`` line per field of the agent's answer (``--json`` prints
the answer itself, for scripts).

People read these lines, so nothing prints as Python would (``None``, ``{}``, ``True``): an absent value says
what its absence means ("server: not configured", "last sync: never"), an empty one says "none", a flag says
yes or no, and a list gets one line per item.
"""

from __future__ import annotations

from typing import Any

#: Fields that read better with their unit than as ``cpu percent: 0.4`` (JSON keeps the numbers).
UNITS = {"cpu_percent": ("cpu", "{} % of one core, on average since it started"),
         "memory_mb": ("memory", "{} MiB")}
#: What a field's ``None`` means; any other field's ``None`` reads "none".
ABSENT = {"server": "not configured", "last_sync": "never", "since": "not known yet"}


def _minutes(count: int) -> str:
    return f"{count} minute{'s' if count != 1 else ''}"


def _words(key: str, value: Any) -> str:
    if value is None:
        return ABSENT.get(key, "none")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):  # set_aside: each refusal reason with the minutes it holds back
        return "; ".join(f"{_minutes(count)} ({reason})" for reason, count in value.items()) or "none"
    return str(value)


def status_lines(answer: dict[str, Any]) -> list[str]:
    """The lines ``staffpulse status`` prints for ``answer``."""
    lines = []
    for key, value in answer.items():
        label = key.replace("_", " ")
        if isinstance(value, list):  # e.g. new_devices: one line each
            lines += [f"{label.removesuffix('s')}: {item}" for item in value] or [f"{label}: none"]
        elif key in UNITS:
            unit_label, text = UNITS[key]
            lines.append(f"{unit_label}: {text.format(value)}")
        else:
            lines.append(f"{label}: {_words(key, value)}")
    return lines
