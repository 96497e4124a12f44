"""Enrolling this device: with a personal code, or silently with IT's deployment key and the OS login.

The token goes straight from the server's answer into the credential store; this module never logs it and
returns the answer without it.

An agent that IT deployed with a server and a deployment key in its policy enrolls itself at its first start
(``enroll_by_policy``); the key is a secret shared by the whole deployment and is never logged either.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import socket
import sys

import requests

from agent.policy import MachinePolicy
from protocol.schema import Enrollment, UserPublic
from protocol.version import VERSION
from sync.api import ApiClient
from sync.credentials import TokenStore
from sync.errors import SyncError
from sync.settings import AgentSettings

log = logging.getLogger(__name__)


def os_login(environ: dict[str, str] | None = None, system: str = sys.platform) -> str:
    """The login IT's roster knows: ``DOMAIN\\user`` on Windows, the user name on macOS and Linux."""
    env = os.environ if environ is None else environ
    if system == "win32":
        user, domain = env.get("USERNAME", ""), env.get("USERDOMAIN", "")
        if not user:
            raise SyncError("cannot tell the Windows login: USERNAME is not set")
        return f"{domain}\\{user}" if domain else user
    return env.get("USER") or getpass.getuser()


def enroll(api: ApiClient, store: TokenStore, *, code: str | None = None, deployment_key: str | None = None,
           login: str | None = None, device_name: str | None = None) -> UserPublic:
    """Enroll and store the token; with a deployment key the login defaults to the OS account's."""
    if (code is None) == (deployment_key is None):
        raise SyncError("enroll with either an enrollment code or a deployment key")
    store.check()  # before the server spends the code on a token with nowhere to go
    request = Enrollment(
        code=code, deployment_key=deployment_key,
        login=(login or os_login()) if deployment_key is not None else None,
        device_name=device_name or socket.gethostname() or "unnamed device",
        platform=f"{sys.platform} {platform.release()}"[:40], agent_version=VERSION)
    result = api.enroll(request)
    store.save(api.server_url, result.token)
    return result.user


def enroll_by_policy(policy: MachinePolicy, settings: AgentSettings, store: TokenStore) -> UserPublic | None:
    """Enroll the OS login with the policy's deployment key when the server in ``settings`` (already merged
    with policy) has no token stored yet; None when nothing was to do or it failed (logged, and tried again at
    the next start: a laptop may start before its network is up)."""
    url = settings.server_url
    if policy.enroll_token is None or url is None:
        return None
    try:
        if store.load(url) is not None:
            return None
        with requests.Session() as http:
            api = ApiClient(url, lambda: None, ca_bundle=settings.ca_bundle, session=http)
            user = enroll(api, store, deployment_key=policy.enroll_token)
    except SyncError as exc:
        log.warning("could not enroll with the deployment key from policy (%s); trying again at the next start",
                    exc)
        return None
    log.info("enrolled by policy as %s (%s) on %s", user.name, user.login, url)
    return user
