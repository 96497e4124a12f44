"""Windows: the values under HKLM\\Software\\Policies\\StaffPulse (64-bit view), written by the MSI from its
SERVERURL / ENROLLTOKEN / IDLETHRESHOLD properties or by Group Policy through installer/windows/StaffPulse.admx.

``winreg`` is the OS boundary: ``RegistryPolicy`` takes the function that lists the key's values, so tests on
Linux hand it a fake one. No key means no policy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from agent.policy import PolicyUnreadable

KEY = r"Software\Policies\StaffPulse"
WHERE = rf"HKLM\{KEY}"

ValueLister = Callable[[str], Mapping[str, object]]


def winreg_values(key: str) -> Mapping[str, object]:
    """Every value of HKLM\\``key`` by name; empty when the key does not exist."""
    if sys.platform != "win32":
        raise PolicyUnreadable("the registry exists only on Windows")
    else:
        import winreg

        try:
            handle = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key, 0,
                                    winreg.KEY_READ | winreg.KEY_WOW64_64KEY)
        except FileNotFoundError:
            return {}
        values: dict[str, object] = {}
        with handle:
            index = 0
            while True:
                try:
                    name, value, _kind = winreg.EnumValue(handle, index)
                except OSError:  # ERROR_NO_MORE_ITEMS
                    return values
                values[name] = value
                index += 1


class RegistryPolicy:
    where = WHERE

    def __init__(self, list_values: ValueLister = winreg_values) -> None:
        self._list_values = list_values

    def read(self) -> Mapping[str, object]:
        try:
            return self._list_values(KEY)
        except OSError as problem:  # access denied, a damaged hive
            raise PolicyUnreadable(str(problem)) from None
