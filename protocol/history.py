"""The rules the history answers and the window's views share, so both sides sum and limit the same way.

A sum of days or members adds every count and second of ``Totals`` and computes the activity share of the
sums (input seconds over active seconds), never an average of shares: the server's day and team totals
(``server.totals``, ``server.history``) and the window's week and team sums (``ui.history_view``,
``ui.day_view``) all use ``totals_from`` / ``sum_totals``. ``MAX_RANGE_DAYS`` is the longest range one history
request may ask for: the server refuses longer ones and the export dialog says so before asking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.schema import Totals

#: The longest range one request may ask for: two months, so a request's cost stays bounded.
MAX_RANGE_DAYS = 62
#: The fields of ``Totals`` that add up across minutes, days and members (``activity_pct`` is recomputed).
SUMMED = tuple(name for name in Totals.model_fields if name != "activity_pct")


def activity_pct(input_s: int, active_s: int) -> float:
    """Input seconds as a share of active seconds, in percent to one decimal; 0 without active seconds."""
    return round(100.0 * input_s / active_s, 1) if active_s else 0.0


def totals_from(sums: Mapping[str, int]) -> Totals:
    """Totals of sums named as ``SUMMED``, with the activity share of the sums."""
    return Totals(**sums, activity_pct=activity_pct(sums["input_s"], sums["active_s"]))


def sum_totals(totals: Iterable[Totals]) -> Totals:
    """Totals of several minutes, days or members: every field summed, the activity share of the sums."""
    sums = dict.fromkeys(SUMMED, 0)
    for each in totals:
        for name in SUMMED:
            sums[name] += getattr(each, name)
    return totals_from(sums)
