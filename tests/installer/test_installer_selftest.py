"""``staffpulse --self-test`` from source: every check reports a line, any failure fails the run, and on a real
X display with a tray host and a real Secret Service it passes; without a system tray the Qt check fails (the
frozen app's run is in test_installer_build.py, the Windows one under Wine in tests/windows)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import staffpulse.selftest
from staffpulse.cli import main
from sync.selftest import Check, run

ROOT = Path(__file__).resolve().parents[2]


def keyring_locked() -> Check:
    raise RuntimeError("Unable to initialize SecretService")


def test_any_failed_check_fails_the_run() -> None:
    out = io.StringIO()
    checks = (lambda: Check("first", True, "fine"), lambda: Check("second", False, "broken"), keyring_locked)
    assert run(out, checks) == 1
    assert out.getvalue().splitlines() == [
        "ok   first: fine", "FAIL second: broken",
        "FAIL keyring locked: RuntimeError: Unable to initialize SecretService", "self-test failed: 2 of 3 checks"]
    out = io.StringIO()
    assert run(out, (lambda: Check("only", True, "fine"),)) == 0
    assert out.getvalue().splitlines()[-1] == "self-test passed"


def source_self_test(env: dict[str, str], home: Path, wrap: Callable[[list[str]], list[str]] | None = None,
                     ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "staffpulse", "--self-test"]
    base = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}  # not the venv's keyrings.alt
    return subprocess.run(wrap(command) if wrap else command, env=base | env, cwd=ROOT, capture_output=True,
                          text=True, timeout=90)


def test_source_self_test_passes_on_a_desktop(desktop_display: str, tmp_path: Path,
                                              with_secret_service: Callable[[list[str]], list[str]]) -> None:
    done = source_self_test({"DISPLAY": desktop_display, "QT_QPA_PLATFORM": "xcb"}, tmp_path, with_secret_service)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok   ") == 5 and "SecretService" in done.stdout
    assert "ok   Qt platform plugin: xcb, 1 screen(s), tray icon 6 sizes, system tray found" in done.stdout


def test_source_self_test_fails_without_a_system_tray(x_display: str, tmp_path: Path,
                                                      with_secret_service: Callable[[list[str]], list[str]]) -> None:
    """An X display with no tray host (no panel, or one without a notification area): the app would only
    have its window, so the Qt check fails, and nothing else does."""
    done = source_self_test({"DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}, tmp_path, with_secret_service)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL Qt platform plugin: xcb, 1 screen(s), tray icon 6 sizes, no system tray" in done.stdout
    assert done.stdout.splitlines()[-1] == "self-test failed: 1 of 5 checks"


def test_source_self_test_fails_without_display_or_keyring(tmp_path: Path) -> None:
    done = source_self_test({"QT_QPA_PLATFORM": "offscreen"}, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    for failed in ("input backend", "idle backend", "keyring backend"):
        assert f"FAIL {failed}:" in done.stdout
    assert "ok   websocket transport" in done.stdout
    assert "FAIL Qt platform plugin: offscreen, 1 screen(s), tray icon 6 sizes, no system tray" in done.stdout
    assert done.stdout.splitlines()[-1] == "self-test failed: 4 of 5 checks"


def test_unwritable_report_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "missing" / "self-test.txt"
    assert main(["--self-test", str(report)]) == 2
    assert f"cannot write the report: [Errno 2] No such file or directory: '{report}'" in capsys.readouterr().err


def test_windowed_app_without_stdout_reports_to_the_log_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               ) -> None:
    """A GUI-subsystem exe run from a console without redirection gets ``sys.stdout = None``."""
    monkeypatch.setenv("STAFFPULSE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(staffpulse.selftest, "CHECKS", (lambda: Check("only", False, "broken"),))
    assert main(["--self-test"]) == 1
    report = (tmp_path / "logs" / "self-test.txt").read_text(encoding="utf-8")
    assert report.splitlines() == ["FAIL only: broken", "self-test failed: 1 of 1 checks"]
