"""scripts/missing-packages (scripts/test's system check) gives a non-root user the answer root gets.

The README invites running scripts/test "as root, or have the listed packages installed". On Debian a non-root
user's PATH has no /sbin, where ldconfig lives: the check ran `ldconfig` by name, so for that user every shared
library counted as missing and scripts/test exited 1 on a machine that had them all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "missing-packages"
#: A non-root login's PATH on Debian (/etc/profile): no /sbin, no /usr/sbin.
USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
FULL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def missing(path: str, *, as_nobody: bool) -> list[str]:
    """The script's answer with ``path``, fed on stdin so that the user need not reach the checkout."""
    user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_nobody else []
    with SCRIPT.open() as script:
        done = subprocess.run([*user, "env", "-i", f"PATH={path}", "bash", "-s"], stdin=script,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_user_without_sbin_on_path_gets_the_same_answer_as_root() -> None:
    full = missing(FULL_PATH, as_nobody=False)
    user = missing(USER_PATH, as_nobody=os.geteuid() == 0)
    assert user == full, "without /sbin on PATH the check names packages that are installed"
    assert not [package for package in user if package.startswith("lib")], "this machine has the libraries"
