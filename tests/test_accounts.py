"""Several accounts per domain: logins as two users, ``switch``, ``logout --account``, a site
pinning an account, concurrent switches and logins (issue 13 item 3; decision 0049).

Real flows: the real ``anaconda auth`` app, keys minted by the kit's identity provider for
two users and checked against it by ``login --with-token``; storage through the real backends.
"""

from __future__ import annotations

import json
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


def write_pinned_sites(home: Path, idp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANACONDA_AUTH_DOMAIN")
    monkeypatch.delenv("ANACONDA_AUTH_SSL_VERIFY")
    lines = ['default_site = "plain"', ""]
    for name, account in (("plain", None), ("work", WORK), ("home", HOME)):
        lines += [f'[sites."{name}"]', f'domain = "{idp.domain}"', f'ssl_verify = "{idp.ca_path}"']
        if account:
            lines.append(f'account = "{account}"')
        lines.append("")
    path = home / ".anaconda" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def test_a_site_pinning_an_account_always_uses_it(
    anaconda_idp: Any, anaconda_auth_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.actions import load_site_config
    from anaconda_auth.client import BaseClient
    from anaconda_auth.token import TokenInfo

    write_pinned_sites(anaconda_auth_home, anaconda_idp, monkeypatch)
    work_key = login_as(anaconda_idp, WORK, "--at", "work")
    home_key = login_as(anaconda_idp, HOME, "--at", "home")

    def key_at(site: str) -> str | None:
        return TokenInfo.load(config=load_site_config(site)).api_key

    for _ in range(2):  # before and after a switch of the domain's active account
        assert key_at("work") == work_key
        assert key_at("home") == home_key
        for site, email in (("work", WORK), ("home", HOME)):
            who = run("whoami", "--at", site)
            assert who.exit_code == 0, who.output
            assert email in who.stdout
            account = BaseClient(site=site).account
            assert isinstance(account, dict) and email in json.dumps(account)
        result = run("switch", "--at", "plain")
        assert result.exit_code == 0, result.output
    assert key_at("plain") == home_key  # switched twice: back to the last login

    # a save through the pinned site (as `anaconda token install --at work` does) goes to that
    # account's own entry: the active account is left alone
    run("switch", WORK)
    token = TokenInfo.load(config=load_site_config("home"))
    token.set_repo_token("org", "repo-secret")
    token.save(config=load_site_config("home"))
    assert key_at("plain") == work_key
    assert TokenInfo.load(config=load_site_config("home")).get_repo_token("org") == "repo-secret"

    # logout --at a pinned site removes that account
    result = run("logout", "--at", "home")
    assert result.exit_code == 0, result.output
    assert f"as {HOME}" in result.stderr
    assert stored_accounts(anaconda_idp.domain) == [WORK]
    who = run("whoami", "--at", "home")
    assert who.exit_code != 0


def test_status_lists_every_stored_account(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    work_key = login_as(anaconda_idp, WORK)
    login_as(anaconda_idp, HOME)
    anaconda_idp.revoke_api_key(work_key)
    result = run("status", "--json", "--offline")
    rows = [r for r in json.loads(result.stdout) if r["domain"] == domain]
    assert [(r["account"], r["active"], r["logged_in"]) for r in rows] == [
        (HOME, True, True),
        (WORK, False, True),
    ]
    assert work_key not in result.output
    result = run("status")
    assert HOME in result.stdout and WORK in result.stdout
    assert "(inactive)" in result.stdout
    run("switch")
    result = run("status", "--json")
    rows = [r for r in json.loads(result.stdout) if r["domain"] == domain]
    assert [(r["account"], r["active"], r["valid"]) for r in rows] == [
        (WORK, True, False),  # revoked: each account is checked with its own key
        (HOME, False, True),
    ]
    assert result.exit_code == 1
