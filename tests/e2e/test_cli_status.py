"""``anaconda auth status`` and ``login --with-token`` as real ``anaconda`` processes: a real
pipe, a hidden prompt on a pseudo-terminal, and the expired-key error of the real error
handlers (the in-process tests are in tests/test_cli_status.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from typing import Any

from support.cli import cli_command

DAY = 86400


def stored_key(domain: str) -> str | None:
    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.token import TokenInfo

    try:
        return TokenInfo.load(domain).api_key
    except TokenNotFoundError:
        return None


def test_with_token_from_a_real_pipe_then_status(
    cli_env: dict[str, str], anaconda_idp: Any
) -> None:
    key = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    cmd = cli_command(["login", "--with-token"])
    proc = subprocess.run(cmd, env=cli_env, input=key + "\n", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert key not in proc.stdout + proc.stderr
    assert stored_key(anaconda_idp.domain) == key

    status = subprocess.run(
        cli_command(["status", "--json"]), env=cli_env, capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert rows[0]["valid"] is True and rows[0]["account"] == "alice@example.com"
    assert key not in status.stdout + status.stderr


def test_with_token_hidden_prompt_on_a_terminal(run_pty: Any, anaconda_idp: Any) -> None:
    key = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    code, screen = run_pty("login", "--with-token", answers=[("input is hidden", key + "\n")])
    assert code == 0, screen
    assert key not in screen  # not echoed
    assert stored_key(anaconda_idp.domain) == key


def test_expired_key_error_names_the_date(run_cli: Any, anaconda_idp: Any) -> None:
    from anaconda_auth.token import TokenInfo

    key = anaconda_idp.mint_api_key(lifetime=-2 * DAY)
    TokenInfo(domain=anaconda_idp.domain, api_key=key, username="alice@example.com").save()
    result = run_cli("whoami")
    assert result.returncode == 1, result
    assert "TokenExpiredError: Your login token has expired" in result.stderr
    day = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).strftime("%Y-%m-%d")
    assert f"Your API key for {anaconda_idp.domain} expired on {day}" in result.stderr
    assert "anaconda auth login" in result.stderr
    assert key not in result.output


def test_verbose_status_logs_no_key(run_cli: Any, anaconda_idp: Any) -> None:
    from anaconda_auth.token import TokenInfo

    key = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    TokenInfo(domain=anaconda_idp.domain, api_key=key).save()
    result = run_cli("--verbose", "status", standalone=True)
    assert result.returncode == 0, result
    assert "DEBUG" in result.stderr  # the debug logs ran
    assert key not in result.output
    assert key.split(".")[1] not in result.output  # nor its claims
