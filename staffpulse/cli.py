"""``staffpulse``: the agent, and the commands scripts and IT use with it.

    staffpulse [--headless]          run the agent: the tray app when there is a display, else headless;
                                     again while it runs: show its window
    staffpulse enroll --server URL (--code CODE | --deployment-key KEY [--login LOGIN])
    staffpulse status [--json]       state, pending minutes, last sync, connection, its own CPU and memory
    staffpulse sync-now              upload now: through the running agent, or by itself if none runs
    staffpulse break start|end       declare a break (tells the team at once)
    staffpulse pause | resume        stop tracking for a while, and start again (if the team's policy allows)
    staffpulse --self-test [REPORT]  check this build without a server (docs/installer.md); REPORT: a file

Exit status: 0 done, 1 failed (the message says why), 2 bad usage or configuration.

This is where the layers meet: the agent core (agent/), the uploader and live connection (sync/) and, only
when there is a display, the tray app (ui/, imported inside ``run_agent`` so Qt never loads headless).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import paths, recovery
from agent.assembly import Sampler, configure_logging
from agent.outbox import FILE_NAME, Outbox
from agent.policy import MachinePolicy, load_policy
from agent.signals import stop_on_signals
from agent.states import PresenceChange
from staffpulse import selftest
from staffpulse.options import add_sampler_arguments
from staffpulse.status_text import status_lines
from sync import control
from sync.api import ApiClient
from sync.credentials import token_store
from sync.enrollment import enroll, enroll_by_policy
from sync.errors import AwaitingApproval, SyncError, in_words
from sync.instance import InstanceLock
from sync.service import AgentService, CachedToken, connector
from sync.settings import AgentSettings, Effective, SettingsError, changed, effective, load, save
from sync.uploader import Uploader

log = logging.getLogger("staffpulse")
ALREADY_RUNNING_WAIT_S = 10.0
SELF_TEST_REPORT = "self-test.txt"  # in the log folder, when the windowed app has no stdout to print to


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="the agent's data dir (default: the platform data dir)")
    parser = argparse.ArgumentParser(prog="staffpulse", description="StaffPulse activity agent. Counts "
                                     "keyboard and mouse activity (never which key or text) and shares it with "
                                     "your team's StaffPulse server.")
    parser.add_argument("--headless", action="store_true", help="run without the tray icon")
    add_sampler_arguments(parser)
    parser.add_argument("--self-test", nargs="?", const="-", metavar="REPORT",
                        help="check this build (input, idle time, keyring, websocket, Qt) without a server; "
                        "write the report to REPORT instead of stdout")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = commands.add_parser("enroll", parents=[common], help="connect this device to a StaffPulse server")
    p.add_argument("--server", help="the server's URL, https://… (default: the one already configured)")
    way = p.add_mutually_exclusive_group(required=True)
    way.add_argument("--code", help="a personal enrollment code from your admin")
    way.add_argument("--deployment-key", help="IT's deployment key; enrolls the OS login (or --login)")
    p.add_argument("--login", help="with --deployment-key: the login to enroll (default: this OS account)")
    p.add_argument("--ca-bundle", help="PEM file of a corporate CA, for TLS-inspecting proxies")
    p.add_argument("--device-name", help="how this device is listed (default: the host name)")
    p = commands.add_parser("status", parents=[common], help="show state, pending minutes, last sync")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands.add_parser("sync-now", parents=[common], help="upload pending minutes now")
    p = commands.add_parser("break", parents=[common], help="start or end a break")
    p.add_argument("action", choices=["start", "end"])
    commands.add_parser("pause", parents=[common], help="pause tracking (if your team's policy allows it)")
    commands.add_parser("resume", parents=[common], help="resume tracking after a pause")
    return parser


def _settings(data_dir: Path, policy: MachinePolicy | None = None) -> AgentSettings:
    """The user's settings with IT's policy on top (read here unless given)."""
    try:
        return effective(load(data_dir), load_policy() if policy is None else policy).settings
    except SettingsError as exc:
        log.error("%s", exc)  # the log too: a windowed agent started at login has no console to print to
        print(f"staffpulse: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_agent(args: argparse.Namespace) -> int:
    data_dir = paths.data_dir(args.data_dir)
    configure_logging(paths.log_dir(args.log_dir))
    lock = InstanceLock(data_dir)  # held until this process ends
    if not lock.acquire():
        return _already_running(data_dir, show=not args.headless)
    policy = load_policy()
    settings = _settings(data_dir, policy)
    enroll_by_policy(policy, settings, token_store())  # first start of an IT-deployed agent
    locked_idle = "idle_threshold_s" in policy.locked  # IT's policy beats --idle-threshold too
    idle_threshold = settings.idle_threshold_s if locked_idle else args.idle_threshold or settings.idle_threshold_s

    def sampler(on_change: Callable[[PresenceChange], None]) -> Sampler:
        return Sampler.open(data_dir, idle_threshold=idle_threshold, time_scale=args.time_scale,
                            on_change=on_change)

    if not args.headless:
        reason = _no_gui_reason()
        if reason is None:
            try:
                from ui.app import run_tray_app  # Qt loads only when there is a display to show it on
            except ImportError as exc:  # PySide6 is there but a DLL it needs is not: count input all the same
                reason = f"the tray app cannot load Qt ({exc})"
            else:
                return run_tray_app(data_dir, settings, sampler, locked=policy.locked)
        log.warning("%s; running headless", reason)
    # A threshold given on the command line (tests, diagnostics) holds against the team's policy, as IT's does.
    kept = policy.locked | ({"idle_threshold_s"} if args.idle_threshold else set())
    fixed = Effective(settings.model_copy(update={"idle_threshold_s": idle_threshold}), frozenset(kept))
    AgentService(data_dir, connector(settings), settings=fixed).run(sampler, stop_on_signals())
    return 0


def _already_running(data_dir: Path, *, show: bool) -> int:
    """Another agent holds the lock. A tray launch asks it to show its window, waiting a little for its control
    channel: the two may have started at the same moment."""
    deadline = time.monotonic() + ALREADY_RUNNING_WAIT_S
    while show and time.monotonic() < deadline:
        try:
            answer = control.send(data_dir, {"command": "show"})
        except (OSError, EOFError, TimeoutError):  # its channel is still being set up
            answer = None
        if answer is not None:
            if answer.get("ok"):
                print("staffpulse: already running; its window is shown")
                return 0
            break  # a headless agent: there is no window to show
        time.sleep(0.2)
    print("staffpulse: the agent is already running for this user", file=sys.stderr)
    return 1


def _no_gui_reason(environ: dict[str, str] | None = None, system: str = sys.platform) -> str | None:
    """Why the tray app cannot start here, or None when it can."""
    env = os.environ if environ is None else environ
    if system.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    if importlib.util.find_spec("PySide6") is None:
        return "the tray app needs PySide6, which is not installed"
    return None


def run_enroll(args: argparse.Namespace) -> int:
    data_dir = paths.data_dir(args.data_dir)
    settings = _settings(data_dir)
    url = args.server or settings.server_url
    if not url:
        print("staffpulse enroll: give --server https://… (no server is configured yet)", file=sys.stderr)
        return 2
    try:
        settings = changed(settings, server_url=url, ca_bundle=args.ca_bundle or settings.ca_bundle)
        server_url = settings.server_url or url
        api = ApiClient(server_url, lambda: None, ca_bundle=settings.ca_bundle)
        store = token_store()
        user = enroll(api, store, code=args.code, deployment_key=args.deployment_key, login=args.login,
                      device_name=args.device_name)
    except SyncError as exc:
        return _failed("enroll", exc)
    save(data_dir, settings)
    print(f"Enrolled as {user.name} ({user.login}) on {server_url}.")
    try:
        ApiClient(server_url, lambda: store.load(server_url), ca_bundle=settings.ca_bundle).me()
    except AwaitingApproval as exc:  # a deployment key's extra device for this login
        print(f"Not syncing yet: {in_words(exc)} Minutes are kept and sent once it is approved.")
        return 0
    except SyncError:  # enrolled all the same; the agent will say what is wrong
        pass
    print("A running agent starts syncing within a minute.")
    return 0


def _failed(command: str, error: SyncError) -> int:
    """Say ``error`` in words on stderr, its detail in the log file only; exit status 1."""
    configure_logging(paths.log_dir(), to_stderr=False)
    log.warning("%s failed: %s", command, error)
    print(f"staffpulse {command}: {in_words(error)}", file=sys.stderr)
    return 1


def run_status(args: argparse.Namespace) -> int:
    data_dir = paths.data_dir(args.data_dir)
    answer: dict[str, Any] | None = control.send(data_dir, {"command": "status"})
    if answer is None and (damage := recovery.problem(data_dir)) is not None:
        answer = {"running": False, "outbox_error": f"{data_dir / FILE_NAME} is damaged ({damage}); the agent "
                  "moves it aside and starts a fresh one when it starts"}
    elif answer is None:
        outbox = Outbox(data_dir)
        try:
            answer = {"running": False, "pending": outbox.pending_count(), "set_aside": outbox.set_aside_reasons()}
        finally:
            outbox.close()
    else:
        answer = {"running": True, **{k: v for k, v in answer.items() if k != "ok"}}
    answer["server"] = _settings(data_dir).server_url
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print("\n".join(status_lines(answer)))
    return 0


def run_sync_now(args: argparse.Namespace) -> int:
    data_dir = paths.data_dir(args.data_dir)
    answer = control.send(data_dir, {"command": "sync-now"})
    if answer is not None:
        print(answer.get("summary") or answer.get("error"))
        return 0 if answer.get("ok") else 1
    settings = _settings(data_dir)
    if settings.server_url is None:
        print("staffpulse sync-now: not enrolled: run 'staffpulse enroll' first", file=sys.stderr)
        return 1
    outbox = Outbox(data_dir)
    try:
        token = CachedToken(token_store(), settings.server_url)
        uploader = Uploader(outbox, ApiClient(settings.server_url, token, ca_bundle=settings.ca_bundle))
        status = uploader.drain(_sleep)
    except SyncError as exc:
        return _failed("sync-now", exc)
    finally:
        outbox.close()
    print(status.summary())
    return 0 if status.last_error is None else 1


def _sleep(seconds: float) -> bool:
    """Retry waits for a one-off ``sync-now``: really sleep, and never be told to stop."""
    time.sleep(seconds)
    return False


def run_break(args: argparse.Namespace) -> int:
    answer = control.send(paths.data_dir(args.data_dir), {"command": "break", "on": args.action == "start"})
    if answer is None:
        print("staffpulse break: the agent is not running", file=sys.stderr)
        return 1
    print("Break started" if args.action == "start" else "Break ended")
    return 0


def run_pause(args: argparse.Namespace) -> int:
    """``pause`` / ``resume``: only through the running agent, which checks the team's policy."""
    on = args.command == "pause"
    answer = control.send(paths.data_dir(args.data_dir), {"command": "pause", "on": on})
    if answer is None:
        print(f"staffpulse {args.command}: the agent is not running", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"staffpulse {args.command}: {answer.get('error')}", file=sys.stderr)
        return 1
    print("Tracking paused: nothing is counted until 'staffpulse resume'" if on else "Tracking resumed")
    return 0


COMMANDS = {None: run_agent, "enroll": run_enroll, "status": run_status, "sync-now": run_sync_now,
            "break": run_break, "pause": run_pause, "resume": run_pause}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.self_test is not None:
        return _self_test(args.self_test)
    return COMMANDS[args.command](args)


def _self_test(report: str) -> int:
    """The report goes to stdout, or to REPORT. A windowed Windows build started without redirection has no
    stdout at all (``sys.stdout`` is None): then it goes to ``self-test.txt`` in the log folder, not nowhere."""
    if report == "-" and sys.stdout is not None:
        return selftest.run(sys.stdout)
    target = Path(report) if report != "-" else paths.log_dir() / SELF_TEST_REPORT
    try:
        out = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed below; the error names the file
    except OSError as exc:
        print(f"staffpulse --self-test: cannot write the report: {exc}", file=sys.stderr)
        return 2
    with out:
        return selftest.run(out)


if __name__ == "__main__":
    sys.exit(main())
