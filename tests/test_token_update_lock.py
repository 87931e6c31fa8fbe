"""A login and ``anaconda token install`` at the same moment keep each other's change.

Both load the stored entry, change it and save it. The test holds the per-user update lock
(as ``anaconda token install`` does while it adds a repository token), starts a real device
login in another process against the local identity provider, and checks that the login waits
for the lock before it stores its new key: afterwards the entry has the login's new key *and*
the repository token added meanwhile. Without the lock the login would finish at once and one
of the two changes would be lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from support.login import HANG_TIMEOUT
from support.tokens import jwt

from anaconda_auth.storage.update_lock import token_update_lock
from anaconda_auth.token import TokenInfo

LOGIN = """
    from anaconda_auth.actions import login

    login(force=True, device=True)
"""


def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_login_waits_for_a_repo_token_update(anaconda_idp: Any, anaconda_auth_home: Path) -> None:
    anaconda_idp.settings.device_auto_approve = True
    domain = anaconda_idp.domain
    old_key = jwt(time.time() + 3600)
    TokenInfo(domain=domain, api_key=old_key).save()

    with token_update_lock():
        info = TokenInfo.load(domain)  # `anaconda token install` read the entry...
        env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY")}
        login = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(LOGIN)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(lambda: anaconda_idp.requests_to("api_keys"), "the login's key request")
            time.sleep(1.0)
            assert login.poll() is None, login.communicate()  # waiting for the lock
            assert TokenInfo.load(domain).api_key == old_key
            info.set_repo_token("acme", "repo-token")  # ...and saves its change
            info.save()
        except BaseException:
            login.kill()
            raise
    out, err = login.communicate(timeout=HANG_TIMEOUT)
    assert login.returncode == 0, err

    stored = TokenInfo.load(domain)
    assert stored.api_key not in (None, old_key)  # the login's new key
    assert stored.get_repo_token("acme") == "repo-token"  # and the token added meanwhile
