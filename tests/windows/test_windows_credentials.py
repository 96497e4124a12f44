"""sync/credentials.py for real on Windows: the device token kept in Credential Manager (keyring's
WinVaultKeyring, under Wine's implementation of CredWrite/CredRead/CredDelete), stored by one Windows process,
read back and deleted by another, and gone for a third: as the agent, ``staffpulse enroll`` and a restart share it.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.wine import WinePrefix, windows_path

SERVER = "https://pulse.example.com"
TOKEN = "dev-tok-wine-5f1c2a9e7b3d"
STORE = """
import json, sys
import keyring
from sync.credentials import CredentialStore
store = CredentialStore()
action, server = sys.argv[1], sys.argv[2]
if action == "save":
    store.save(server, sys.argv[3])
found = store.load(server)
if action == "delete":
    store.delete(server)
print(json.dumps({"backend": type(keyring.get_keyring()).__name__, "uses_keyring": store.uses_keyring,
                  "found": found, "other_server": store.load("https://other.example.com")}))
"""


def credentials(wine: WinePrefix, data: Path, *args: str) -> dict[str, object]:
    """One Windows process of its own doing ``args`` with a ``CredentialStore``, and what it saw."""
    done = wine.python(["-c", STORE, *args], env={"STAFFPULSE_DATA_DIR": windows_path(data)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert TOKEN not in done.stderr  # the token is never logged
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_token_round_trips_through_credential_manager_between_processes(
    running_wine: WinePrefix, tmp_path: Path
) -> None:
    saved = credentials(running_wine, tmp_path, "save", SERVER, TOKEN)
    assert saved == {"backend": "WinVaultKeyring", "uses_keyring": True, "found": TOKEN, "other_server": None}

    read = credentials(running_wine, tmp_path, "delete", SERVER)  # reads it back, then deletes it
    assert read["found"] == TOKEN
    assert credentials(running_wine, tmp_path, "load", SERVER)["found"] is None

    assert not any(tmp_path.iterdir())  # Credential Manager only: no plaintext token file beside the data
