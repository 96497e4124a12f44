"""An MSI's tables as msitools' ``msiinfo`` exports them: what the tests read of a built package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.xdisplay import need_tool


def msi_table(msi: Path, table: str) -> list[list[str]]:
    """The rows of an MSI's ``table``, read by msiinfo (its export's three header lines dropped)."""
    out = subprocess.run([need_tool("msiinfo"), "export", str(msi), table], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines()[3:]]
