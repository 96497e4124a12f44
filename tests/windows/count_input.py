"""Run by the Windows Python under Wine (tests/windows/test_windows_input.py): the agent's input counter and OS
idle backend, put together as ``agent.assembly.Sampler`` does, answering one JSON line per line read on stdin.

Each answer is what the runner reads at a stop: first ``InputCounter.catch_up`` with the OS's last input
(GetLastInputInfo), so every event the OS had seen is counted, then the totals. The first line written says the
listeners run. argv[1] is the log folder (``agent.assembly.configure_logging``, as the agent logs).
"""

import dataclasses
import json
import sys
import time
from pathlib import Path

from agent.assembly import configure_logging
from agent.idle import select_backend
from agent.input_counter import InputCounter

configure_logging(Path(sys.argv[1]), to_stderr=False)
counter = InputCounter(time.monotonic)
idle = select_backend(sys.platform)()
print(json.dumps({"counting": counter.start(), "backend": type(idle).__name__}), flush=True)
for _request in sys.stdin:
    idle_s = idle.idle_seconds()
    caught_up = counter.catch_up(time.monotonic() - idle_s, timeout=10)
    print(json.dumps({"idle_s": idle_s, "locked": idle.locked(), "caught_up": caught_up,
                      **dataclasses.asdict(counter.totals())}), flush=True)
counter.stop()
