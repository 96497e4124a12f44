"""The device token never lands in a plaintext file unless IT or the person running the agent allowed it.
Where keyrings.alt is installed and no Secret Service runs, ``keyring`` picked keyrings.alt's plaintext backend
by itself, and ``staffpulse enroll`` stored the token base64-encoded in ~/.local/share/python_keyring. The real
command runs here in such an environment."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from support.servers import ServerProcess
from support.team import Team, issue_code
from sync.credentials import ALLOW_ENV

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path) -> dict[str, str]:
    """No keyring chosen, no D-Bus session (so no Secret Service), keyring's own files under ``tmp_path``."""
    drop = ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", ALLOW_ENV, "DISPLAY", "WAYLAND_DISPLAY")
    return {k: v for k, v in os.environ.items() if k not in drop} | {
        "STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "PYTHONPATH": str(ROOT)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_auto_picked_plaintext_keyring_is_refused_and_the_code_not_spent(server: ServerProcess, team: Team,
                                                                              tmp_path: Path) -> None:
    env = environment(tmp_path)
    picked = run(env, "-c", "import keyring; print(type(keyring.get_keyring()).__module__)")
    assert picked.stdout.strip() == "keyrings.alt.file", "the environment the attack needs: " + picked.stdout
    keyring_file = tmp_path / "xdg-data" / "python_keyring" / "keyring_pass.cfg"
    code = issue_code(server, team.people[1].login)

    refused = run(env, "-m", "staffpulse", "enroll", "--server", server.url, "--code", code)
    assert refused.returncode == 1
    assert "AllowPlaintextToken" in refused.stderr and ALLOW_ENV in refused.stderr, refused.stderr
    assert not keyring_file.exists(), "the token went to keyrings.alt's plaintext file"
    assert not (tmp_path / "data" / "settings.json").exists()

    allowed = run(env | {ALLOW_ENV: "1"}, "-m", "staffpulse", "enroll", "--server", server.url, "--code", code)
    assert allowed.returncode == 0, "the refusal did not spend the one-time code: " + allowed.stderr
    token_file = tmp_path / "data" / "device-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().startswith(server.url + "\n")
    assert not keyring_file.exists()
