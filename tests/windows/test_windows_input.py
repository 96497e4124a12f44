"""The agent's Windows input path for real: pynput's low-level hooks (``agent.input_counter``) and
GetLastInputInfo (``agent/idle/_windows.py``) in the Windows Python under Wine, counting what xdotool sends.

Wine sees X input only through its own windows, as Windows apps see input while they have focus: the test opens
``notepad``, gives it the keyboard focus and keeps the pointer over it. ``count_input.py`` (beside this file) runs
the counter as the agent does and answers each request after catching up with the OS's last input, so what the
test compares is every event Windows had seen, without waiting for fixed times.

Mouse distance is compared within ``MOUSE_TOLERANCE_PX``: the counter adds straight-line lengths between the
positions the hook reports and rounds the total, and Wine reports each xdotool jump as one event at the exact
pixel, so the total is the sum of the jumps' lengths; 2 px leaves room for rounding, not for a lost or doubled move.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.wine import WinePrefix, windows_path
from support.wine_desktop import Window, focused_notepad, wait_until, xdotool

pytestmark = pytest.mark.x11

HARNESS = Path(__file__).with_name("count_input.py")
MOUSE_TOLERANCE_PX = 2
COUNTS = ("keys", "clicks", "scrolls", "mouse_px")


@dataclass
class Counter:
    """The Windows process counting input, and everything it wrote."""

    process: subprocess.Popen[str]
    logs: Path
    answers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def read_once(self, before: dict[str, Any], least: dict[str, int]) -> dict[str, int]:
        """The counts since ``before`` once they reached ``least``. Input xdotool sent reaches Wine through its
        X event processing, which can still be under way when xdotool returns (on Windows, a key press is in the
        OS as the call returns): so the test waits for the counts, then reads once more, which must show no
        more than that."""
        wait_until(lambda: all(delta(before, self.read())[name] >= count for name, count in least.items()),
                   f"the counter to reach {least}")
        return delta(before, self.read())

    def read(self) -> dict[str, Any]:
        """The counts and idle time now, once the counter has caught up with the OS's last input."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("read\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the counter ended: {''.join(self.errors)[-2000:]}"
        self.answers.append(line)
        answer: dict[str, Any] = json.loads(line)
        assert answer["caught_up"], answer
        return answer


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in COUNTS}


@pytest.fixture(scope="module")
def notepad(running_wine: WinePrefix) -> Iterator[Window]:
    """Wine's notepad, shown and holding the keyboard focus, the pointer over it from the start."""
    with focused_notepad(running_wine) as window:
        assert window.width >= 600 and window.height >= 500, window  # room for the moves below
        yield window


@pytest.fixture(scope="module")
def counter(running_wine: WinePrefix, notepad: Window, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counter]:
    logs = tmp_path_factory.mktemp("logs")
    process = subprocess.Popen(running_wine.command([running_wine.python_exe, windows_path(HARNESS),
                                                     windows_path(logs)]),
                               env=running_wine.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8")
    running = Counter(process, logs)
    assert process.stdout is not None and process.stderr is not None
    drain = threading.Thread(target=lambda: running.errors.extend(process.stderr or ()), daemon=True)
    drain.start()
    started = process.stdout.readline()
    assert json.loads(started or "{}") == {"counting": True, "backend": "WindowsIdle"}, "".join(running.errors)
    running.answers.append(started)
    yield running
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(60) == 0, "".join(running.errors)[-2000:]
    drain.join(10)
    process.stdout.close()
    process.stderr.close()


def test_idle_time_grows_while_idle_and_resets_on_input(running_wine: WinePrefix, notepad: Window,
                                                        counter: Counter) -> None:
    first = counter.read()
    assert first["locked"] is False
    wait_until(lambda: counter.read()["idle_s"] >= first["idle_s"] + 1.5, "idle time to grow by 1.5 s")
    xdotool(running_wine, "key", "x")
    wait_until(lambda: counter.read()["idle_s"] < 1.0, "idle time to drop below 1 s")  # it was >= 1.5 s
    assert counter.read()["keys"] == first["keys"] + 1


def test_counts_exactly_the_keys_clicks_scroll_steps_and_mouse_distance(
    running_wine: WinePrefix, notepad: Window, counter: Counter
) -> None:
    left, top = notepad.x + 200, notepad.y + 200
    xdotool(running_wine, "mousemove", str(left), str(top))
    before = counter.read()
    text = "hello world 12345"  # no capitals: one key press each, no shift
    xdotool(running_wine, "type", "--delay", "15", text)
    xdotool(running_wine, "click", "--repeat", "3", "--delay", "40", "1")
    xdotool(running_wine, "click", "--repeat", "2", "--delay", "40", "5")  # two wheel steps down
    xdotool(running_wine, "click", "4")  # one up
    xdotool(running_wine, "mousemove", str(left + 300), str(top + 400))  # 500 px: a 3-4-5 triangle
    xdotool(running_wine, "mousemove", str(left + 300), str(top + 100))  # 300 px straight up
    expected = {"keys": len(text), "clicks": 3, "scrolls": 3}
    counted = counter.read_once(before, {**expected, "mouse_px": 800 - MOUSE_TOLERANCE_PX})
    assert abs(counted.pop("mouse_px") - 800) <= MOUSE_TOLERANCE_PX
    assert counted == expected


def test_typed_text_reaches_neither_the_counts_nor_the_log(running_wine: WinePrefix, notepad: Window,
                                                            counter: Counter) -> None:
    secret = "zebrafalconquartzmaple"
    before = counter.read()
    xdotool(running_wine, "type", "--delay", "15", secret)
    assert counter.read_once(before, {"keys": len(secret)})["keys"] == len(secret)  # seen, and only counted
    assert all(set(json.loads(line)) <= {"counting", "backend", "idle_s", "locked", "caught_up", *COUNTS}
               for line in counter.answers)
    written = [*counter.answers, *counter.errors,
               *(path.read_text(encoding="utf-8") for path in counter.logs.rglob("*") if path.is_file())]
    for needle in (secret, secret[:6], secret[-6:]):
        assert not any(needle in text for text in written), needle
