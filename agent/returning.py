"""Coming back from idle: the question the person is asked, their answer, and what it does to the held minutes.

After an idle spell longer than the threshold the tray app asks "keep as work / mark as break / discard".
Until the answer the minutes with idle seconds wait in the outbox as *held* (never uploaded), so the team
never sees idle time the person is about to call work or a break. The answer rewrites only the idle seconds;
everything else in the slot (active, break, input counts) is what the runner measured and stays.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from protocol.schema import Slot

#: No answer within this long (a person who walked past the prompt): the minutes go out as idle, unchanged.
ANSWER_WAIT_S = 600.0


class IdleAnswer(enum.StrEnum):
    KEEP = "keep"  # it was work (reading, a meeting at the desk): the idle seconds become active
    BREAK = "break"  # it was a break: the idle seconds become break
    DISCARD = "discard"  # not tracked at all, like away


@dataclass(frozen=True)
class IdleReturn:
    """The spell the person came back from: idle since ``since`` (their last input) until ``until``."""

    since: datetime
    until: datetime


def rewrite(slot: Slot, answer: IdleAnswer) -> Slot | None:
    """``slot`` with its idle seconds turned into what the person said; None when nothing of it is left.

    Validated again as a ``Slot``, so the schema's invariants (active + idle + break = tracked, input within
    active) hold after the rewrite as they did before.
    """
    idle = slot.idle_s
    if answer is IdleAnswer.KEEP:
        changed = {"active_s": slot.active_s + idle}
    elif answer is IdleAnswer.BREAK:
        changed = {"break_s": slot.break_s + idle}
    else:
        changed = {"tracked_s": slot.tracked_s - idle}
    values = slot.model_dump() | changed | {"idle_s": 0}
    if values["tracked_s"] == 0 and not any(values[name] for name in ("keys", "clicks", "scrolls", "mouse_px")):
        return None  # an all-idle minute discarded: like an away minute, it is simply not there
    return Slot.model_validate(values)
