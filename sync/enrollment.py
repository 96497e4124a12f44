"""Enrolling this device: with a personal code, or silently with IT's deployment key and the OS login.

The token goes straight from the server's answer into the credential store; this module never logs it and
returns the answer without it.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys

from protocol.schema import Enrollment, UserPublic
from sync.api import ApiClient
from sync.credentials import CredentialStore
from sync.errors import SyncError

AGENT_VERSION = "0.1.0"


def os_login(environ: dict[str, str] | None = None, system: str = sys.platform) -> str:
    """The login IT's roster knows: ``DOMAIN\\user`` on Windows, the user name on macOS and Linux."""
    env = os.environ if environ is None else environ
    if system == "win32":
        user, domain = env.get("USERNAME", ""), env.get("USERDOMAIN", "")
        if not user:
            raise SyncError("cannot tell the Windows login: USERNAME is not set")
        return f"{domain}\\{user}" if domain else user
    return env.get("USER") or getpass.getuser()


def enroll(api: ApiClient, store: CredentialStore, *, code: str | None = None, deployment_key: str | None = None,
           login: str | None = None, device_name: str | None = None) -> UserPublic:
    """Enroll and store the token; with a deployment key the login defaults to the OS account's."""
    if (code is None) == (deployment_key is None):
        raise SyncError("enroll with either an enrollment code or a deployment key")
    request = Enrollment(
        code=code, deployment_key=deployment_key,
        login=(login or os_login()) if deployment_key is not None else None,
        device_name=device_name or socket.gethostname() or "unnamed device",
        platform=f"{sys.platform} {platform.release()}"[:40], agent_version=AGENT_VERSION)
    result = api.enroll(request)
    store.save(api.server_url, result.token)
    return result.user
