"""Several accounts per domain: logins as two users, ``switch``, ``logout --account``, a site
pinning an account, concurrent switches and logins (issue 13 item 3; decision 0049).

Real flows: the real ``anaconda auth`` app, keys minted by the kit's identity provider for
two users and checked against it by ``login --with-token``; storage through the real backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.cli import _state, app
from typer.testing import CliRunner

DAY = 86400
WORK = "work@example.com"
HOME = "home@example.com"
THIRD = "third@example.com"


@pytest.fixture(autouse=True)
def fresh_state(anaconda_auth_home: Path) -> Iterator[None]:
    _state.STATE.new_command()
    yield
    _state.STATE.new_command()


def run(*args: str, input: str | None = None) -> Any:
    _state.STATE.new_command()
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "250"})


def login_as(idp: Any, email: str, *extra: str) -> str:
    idp.add_user(email)
    key: str = idp.mint_api_key(email, lifetime=30 * DAY)
    result = run("login", "--with-token", *extra, input=key + "\n")
    assert result.exit_code == 0, result.output
    return key


def active(domain: str | None = None) -> Any:
    from anaconda_auth.token import TokenInfo

    return TokenInfo.load(domain)


def stored_accounts(domain: str) -> list[str]:
    from anaconda_auth.actions import load_site_config
    from anaconda_auth.storage import accounts

    return accounts.accounts(domain, load_site_config())


def test_second_login_keeps_the_first_account_and_switch_toggles(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    work_key = login_as(anaconda_idp, WORK)
    home_key = login_as(anaconda_idp, HOME)
    token = active(domain)
    assert (token.username, token.api_key) == (HOME, home_key)
    assert stored_accounts(domain) == [HOME, WORK]

    result = run("switch")
    assert result.exit_code == 0, result.output
    assert f"to {WORK}" in result.stderr
    token = active(domain)
    assert (token.username, token.api_key) == (WORK, work_key)
    assert stored_accounts(domain) == [WORK, HOME]
    who = run("whoami")
    assert who.exit_code == 0, who.output
    assert WORK in who.stdout

    result = run("switch")  # toggles back
    assert result.exit_code == 0, result.output
    assert active(domain).api_key == home_key

    # a login again as the active user replaces its key and adds nothing
    newer = login_as(anaconda_idp, HOME)
    assert active(domain).api_key == newer
    assert stored_accounts(domain) == [HOME, WORK]


def test_switch_with_three_accounts_needs_a_name_off_a_terminal(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    keys = {email: login_as(anaconda_idp, email) for email in (WORK, HOME, THIRD)}
    result = run("switch")
    assert result.exit_code == 1
    assert WORK in result.stderr and HOME in result.stderr
    assert active(domain).username == THIRD  # nothing changed

    result = run("switch", "nobody@example.com")
    assert result.exit_code == 1
    assert "nobody@example.com" in result.output

    result = run("switch", WORK)
    assert result.exit_code == 0, result.output
    assert active(domain).api_key == keys[WORK]
    assert sorted(stored_accounts(domain)) == sorted(keys)


def test_logout_removes_the_active_account_and_says_which_is_active(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    work_key = login_as(anaconda_idp, WORK)
    login_as(anaconda_idp, HOME)
    result = run("logout")
    assert result.exit_code == 0, result.output
    assert f"as {HOME}" in result.stderr
    assert f"Active account for {domain}: {WORK}" in result.stderr
    assert active(domain).api_key == work_key
    assert stored_accounts(domain) == [WORK]

    result = run("logout")
    assert result.exit_code == 0, result.output
    from anaconda_auth.exceptions import TokenNotFoundError

    with pytest.raises(TokenNotFoundError):
        active(domain)


def test_logout_of_an_inactive_account(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    login_as(anaconda_idp, WORK)
    home_key = login_as(anaconda_idp, HOME)
    result = run("logout", "--account", WORK)
    assert result.exit_code == 0, result.output
    assert f"Active account for {domain}: {HOME}" in result.stderr
    assert active(domain).api_key == home_key
    assert stored_accounts(domain) == [HOME]
    result = run("logout", "--account", WORK)
    assert result.exit_code == 1
    assert "No account" in result.output
