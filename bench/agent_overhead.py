"""How much CPU and memory the headless agent costs, idle and under input load. Prints figures; not a test.

Each run starts a fresh Xvfb and a fresh agent, measures one window with no input and one while a single
long-running ``xdotool -`` process receives ``--rate`` commands a second, each written and flushed on its own
(mostly relative mouse moves, every 20th a key tap). CPU is utime+stime of the agent process over the window,
as a percentage of one core; RSS is read at the end of the loaded window. The median of the runs is reported.

    .venv/bin/python bench/agent_overhead.py                        # full size: 3 runs x (60 s + 60 s)
    .venv/bin/python bench/agent_overhead.py --runs 1 --duration 5  # quick check
Targets: idle <= 0.13 %, under load <= 2 %, RSS <= 45 MiB.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_end], [], [], 15)
        chunk = os.read(read_end, 16) if ready else b""
        if not chunk:
            raise SystemExit("Xvfb did not start")
        number += chunk
    os.close(read_end)
    return server, f":{number.decode().strip()}"


def wait_for(path: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text(encoding="utf-8")):
        if time.monotonic() > deadline:
            raise SystemExit(f"agent never logged {text!r}")
        time.sleep(0.1)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def drive_input(env: dict[str, str], seconds: float, rate: int) -> int:
    """Send ``rate`` single xdotool commands a second for ``seconds``; returns how many were sent."""
    driver = subprocess.Popen(["xdotool", "-"], stdin=subprocess.PIPE, env=env, text=True)
    assert driver.stdin is not None
    start, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        if sent >= elapsed * rate:
            time.sleep(min(0.5 / rate, seconds - elapsed))
            continue
        step = 3 if sent % 2 else -3
        command = "key a" if sent % 20 == 19 else f"mousemove_relative -- {step} {step}"
        driver.stdin.write(command + "\n")
        driver.stdin.flush()
        sent += 1
    driver.stdin.close()
    driver.wait(30)
    return sent


ENTRIES = {
    # The sampler alone: what issue 3's targets are about.
    "sampler": ["-m", "staffpulse.sampler"],
    # The whole agent as shipped (sync, live client and control channel loaded; not enrolled, so no traffic).
    "staffpulse": ["-m", "staffpulse", "--headless"],
}


def one_run(duration: float, rate: int, entry: str) -> tuple[float, float, float]:
    server, display = start_xvfb()
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env["DISPLAY"] = display
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "logs"
        agent = subprocess.Popen(
            [sys.executable, *ENTRIES[entry], "--data-dir", f"{tmp}/data", "--log-dir", str(logs)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(logs / "agent.log", "state active")
            process = psutil.Process(agent.pid)
            time.sleep(2)  # let start-up work settle
            before = cpu_seconds(process)
            time.sleep(duration)
            idle = (cpu_seconds(process) - before) / duration * 100
            before, start = cpu_seconds(process), time.monotonic()
            sent = drive_input(env, duration, rate)
            window = time.monotonic() - start
            load = (cpu_seconds(process) - before) / window * 100
            rss = process.memory_info().rss / 2**20
            print(f"  run: idle {idle:.3f} %  load {load:.3f} % ({sent / window:.0f} events/s)  rss {rss:.1f} MiB")
        finally:
            agent.terminate()
            agent.wait(20)
            server.terminate()
            server.wait(20)
    return idle, load, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per window (idle, then load)")
    parser.add_argument("--rate", type=int, default=200, help="input events per second in the load window")
    parser.add_argument("--entry", choices=sorted(ENTRIES), default="sampler", help="which agent to measure")
    args = parser.parse_args()
    print(f"{args.entry}: {args.runs} runs x ({args.duration:.0f} s idle + {args.duration:.0f} s at {args.rate}/s)")
    results = [one_run(args.duration, args.rate, args.entry) for _ in range(args.runs)]
    idle, load, rss = (statistics.median(column) for column in zip(*results, strict=True))
    print(
        f"median of {args.runs}: idle {idle:.3f} % (target 0.13)  load {load:.3f} % (target 2)"
        f"  rss {rss:.1f} MiB (target 45)"
    )


if __name__ == "__main__":
    main()
