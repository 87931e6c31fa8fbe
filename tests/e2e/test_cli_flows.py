"""``anaconda auth`` and ``python -m anaconda_auth`` as real subprocesses against the local
identity provider over TLS: logging in (browser and device flows), whoami, api-key, logout,
the login-required handling, and that no secret reaches the output."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import ANACONDA, running
from support.login import HANG_TIMEOUT

pytestmark = pytest.mark.e2e

BOTH = pytest.mark.parametrize("standalone", [False, True], ids=["anaconda", "python-m"])


def stored_key(domain: str) -> str | None:
    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.manager import reset_plugin_manager
    from anaconda_auth.token import TokenInfo

    reset_plugin_manager()
    try:
        return TokenInfo.load(domain).api_key
    except TokenNotFoundError:
        return None


def save_key(domain: str, api_key: str) -> None:
    from anaconda_auth.token import TokenInfo

    TokenInfo(domain=domain, api_key=api_key, username="alice@example.com").save()


@BOTH
def test_browser_login_whoami_api_key_logout(
    run_cli: Any, anaconda_idp: Any, standalone: bool
) -> None:
    login = run_cli("login", standalone=standalone)
    assert login.returncode == 0, login
    assert "Opening your browser" in login.stderr
    assert f"Logged in to {anaconda_idp.domain}" in login.stderr
    assert "anaconda-keyring" in login.stderr
    assert login.stdout == ""
    key = stored_key(anaconda_idp.domain)
    assert key is not None
    assert anaconda_idp.requests_to("api_keys"), "the API key was minted by the provider"

    who = run_cli("whoami", standalone=standalone)
    assert who.returncode == 0, who
    assert "alice (Alice Example <alice@example.com>)" in who.stdout
    assert f"Domain:  {anaconda_idp.domain}" in who.stdout
    assert "API key: stored in anaconda-keyring — encrypted file" in who.stdout
    assert "UTC (in 29 days)" in who.stdout or "UTC (in 30 days)" in who.stdout
    assert anaconda_idp.requests_to("account")[-1].headers["Authorization"] == f"Bearer {key}"

    api_key = run_cli("api-key", standalone=standalone)
    assert api_key.returncode == 0, api_key
    assert api_key.stdout == key + "\n"
    assert api_key.stderr == ""

    logout = run_cli("logout", standalone=standalone)
    assert logout.returncode == 0, logout
    assert f"Logged out of {anaconda_idp.domain}" in logout.stderr
    assert stored_key(anaconda_idp.domain) is None

    again = run_cli("logout", standalone=standalone)
    assert again.returncode == 0, again
    assert "No API key was stored" in again.stderr

    after = run_cli("api-key", standalone=standalone)
    assert after.returncode == 1, after
    assert after.stdout.strip() == "" or "--verbose" in after.stdout  # only the hint
    assert "TokenNotFoundError: Login is required" in after.output
    assert "anaconda auth login" in after.output
    assert "ANACONDA_AUTH_API_KEY" in after.output
    prog = "python -m anaconda_auth" if standalone else "anaconda"
    assert f"{prog} --verbose" in after.output
    assert "api-key" in after.output.split("--verbose", 1)[1]


def test_whoami_json(run_cli: Any, anaconda_logged_in: Any) -> None:
    who = run_cli("whoami", "--json")
    assert who.returncode == 0, who
    data = json.loads(who.stdout)
    assert data["domain"] == anaconda_logged_in.domain
    assert data["user"]["email"] == "alice@example.com"
    assert data["source"] == "anaconda-keyring"
    assert data["expires_at"].endswith("+00:00")
    assert data["account"]["user"]["username"] == "alice"
    assert anaconda_logged_in.api_key not in who.output


def test_device_flow(run_cli: Any, cli_env: dict[str, str], anaconda_idp: Any) -> None:
    anaconda_idp.settings.auto_approve = False  # approved below, not by the $BROWSER's visit
    with running([ANACONDA, "auth", "login", "--device"], cli_env) as proc:
        deadline = time.monotonic() + HANG_TIMEOUT
        while not anaconda_idp.pending_user_codes():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no device code was requested"
            time.sleep(0.1)
        (user_code,) = anaconda_idp.pending_user_codes()
        anaconda_idp.approve_device(user_code)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert user_code in stderr
    assert f"{anaconda_idp.url}/device" in stderr
    assert "Waiting" in stderr
    assert f"Logged in to {anaconda_idp.domain}" in stderr
    assert not anaconda_idp.requests_to("authorize"), "the browser flow was not used"
    assert stored_key(anaconda_idp.domain) is not None


def test_already_logged_in_and_force(
    run_cli: Any, anaconda_logged_in: Any, anaconda_idp: Any
) -> None:
    again = run_cli("login")
    assert again.returncode == 0, again
    assert f"already logged in to {anaconda_idp.domain}" in again.stderr
    assert "anaconda auth login --force" in again.stderr
    assert not anaconda_idp.requests_to("authorize")
    assert stored_key(anaconda_idp.domain) == anaconda_logged_in.api_key

    forced = run_cli("login", "--force")
    assert forced.returncode == 0, forced
    assert anaconda_idp.requests_to("authorize")
    new_key = stored_key(anaconda_idp.domain)
    assert new_key is not None and new_key != anaconda_logged_in.api_key


def test_expired_key_logs_in_again(
    run_cli: Any, anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    expired = anaconda_idp.mint_api_key(lifetime=-60)
    anaconda_idp.clear_requests()
    save_key(anaconda_idp.domain, expired)

    who = run_cli("whoami")
    assert who.returncode == 1, who
    assert "TokenExpiredError: Your login token has expired" in who.output
    assert "anaconda auth login" in who.output
    assert not anaconda_idp.requests_to("account"), "no request with an expired key"

    login = run_cli("login")
    assert login.returncode == 0, login
    assert "has expired: logging in again" in login.stderr
    new_key = stored_key(anaconda_idp.domain)
    assert new_key is not None and new_key != expired

    assert run_cli("whoami").returncode == 0


def test_revoked_key_is_invalid_authentication(
    run_cli: Any, anaconda_logged_in: Any, anaconda_idp: Any
) -> None:
    anaconda_idp.revoke_api_key(anaconda_logged_in.api_key)
    who = run_cli("whoami")
    assert who.returncode == 1, who
    assert "InvalidAuthentication: Your provided API Key or login token is invalid" in who.output
    assert "anaconda auth login" in who.output
    assert anaconda_logged_in.api_key not in who.output


def test_environment_api_key(run_cli: Any, anaconda_auth_home: Path, anaconda_idp: Any) -> None:
    key = anaconda_idp.mint_api_key()
    anaconda_idp.clear_requests()
    env = {"ANACONDA_AUTH_API_KEY": key}
    who = run_cli("whoami", env=env)
    assert who.returncode == 0, who
    assert "API key: the ANACONDA_AUTH_API_KEY environment variable" in who.stdout

    login = run_cli("login", env=env)
    assert login.returncode == 0, login
    assert "already logged in" in login.stderr
    assert not anaconda_idp.requests_to("authorize")

    anaconda_idp.revoke_api_key(key)
    bad = run_cli("whoami", env=env)
    assert bad.returncode == 1, bad
    assert "The API key comes from ANACONDA_AUTH_API_KEY" in bad.output
    assert key not in bad.output


@BOTH
def test_verbose_shows_traceback_without_secrets(
    run_cli: Any, anaconda_logged_in: Any, anaconda_idp: Any, standalone: bool
) -> None:
    anaconda_idp.revoke_api_key(anaconda_logged_in.api_key)
    args = ("--verbose", "whoami") if standalone else ()
    if standalone:
        result = run_cli(*args, standalone=True)
    else:
        result = run_cli(command=[ANACONDA, "--verbose", "auth", "whoami"])
    assert result.returncode == 1, result
    assert "Traceback" in result.output
    assert "InvalidAuthentication" in result.output
    assert anaconda_logged_in.api_key not in result.output
    # a key fragment of 40 characters would show as well (rich shortens long values)
    assert anaconda_logged_in.api_key[-40:] not in result.output


def test_verbose_logs_go_to_stderr_and_hold_no_secrets(run_cli: Any, anaconda_idp: Any) -> None:
    login = run_cli("--verbose", "login", standalone=True)
    assert login.returncode == 0, login
    assert "DEBUG anaconda_auth" in login.stderr
    key = stored_key(anaconda_idp.domain)
    assert key is not None and key not in login.output
    secrets = [key]
    for request in anaconda_idp.requests_to("token"):
        secrets += [request.form.get(f) for f in ("code", "code_verifier", "device_code")]
    for request in anaconda_idp.requests_to("api_keys"):
        secrets.append(request.headers["Authorization"].split()[-1])  # the access token
    assert len([s for s in secrets if s]) >= 4
    for secret in filter(None, secrets):
        assert secret not in login.output
    api_key = run_cli("--verbose", "api-key", standalone=True)
    assert api_key.stdout == key + "\n"
    assert key not in api_key.stderr


def test_unknown_site_is_an_error(run_cli: Any) -> None:
    result = run_cli("whoami", "--at", "nowhere")
    assert result.returncode == 1, result
    assert "UnknownSiteName" in result.output
    assert "nowhere" in result.output


def test_usage_errors_exit_2(run_cli: Any) -> None:
    assert run_cli("login", "--no-such-option").returncode == 2
    assert run_cli("no-such-command", standalone=True).returncode == 2


def test_ctrl_c_while_waiting_stores_nothing(cli_env: dict[str, str], anaconda_idp: Any) -> None:
    env = {**cli_env, "BROWSER": "true %s"}  # a browser that never comes back
    with running([ANACONDA, "auth", "login"], env) as proc:
        assert proc.stderr is not None
        seen = ""
        while "Waiting" not in seen:
            line = proc.stderr.readline()
            assert line, f"no 'Waiting' line; got {seen!r}"
            seen += line
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Login cancelled; nothing was stored." in stderr
    assert "Traceback" not in stderr
    assert stored_key(anaconda_idp.domain) is None
