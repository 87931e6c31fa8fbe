"""Several accounts per domain: logins as two users, ``switch``, ``logout --account``, a site
pinning an account, concurrent switches and logins (decision 0049).

Real flows: the real ``anaconda auth`` app, keys minted by the kit's identity provider for
two users and checked against it by ``login --with-token``; storage through the real backends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.cli import _state, app
from support.processes import REF_PYTHON  # (found at import, before a test changes HOME)
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
    LAST_OUTPUT[:] = [result.stderr]
    return key


LAST_OUTPUT: list[str] = []


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
    assert f"Also stored for {domain}: {WORK}" in LAST_OUTPUT[0]
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

    result = run("status", "--json", "--offline")
    rows = [(r["site"], r["account"], r["active"]) for r in json.loads(result.stdout)]
    assert rows == [
        ("plain", HOME, True),
        ("plain", WORK, False),
        ("work", WORK, False),  # pinned: its own account only
        ("home", HOME, True),
    ]

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
    result = run("logout", "--at", "home")  # nothing stored for it: succeeds, as any logout
    assert result.exit_code == 0, result.output
    assert "No API key was stored" in result.stderr
    assert stored_accounts(anaconda_idp.domain) == [WORK]


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


def test_concurrent_logins_and_switches_lose_nothing(anaconda_idp: Any) -> None:
    domain = anaconda_idp.domain
    keys = {WORK: login_as(anaconda_idp, WORK), HOME: login_as(anaconda_idp, HOME)}
    new_users = [f"user{i}@example.com" for i in range(4)]
    for email in new_users:
        anaconda_idp.add_user(email)
        keys[email] = anaconda_idp.mint_api_key(email, lifetime=30 * DAY)
    cli = [sys.executable, "-m", "anaconda_auth"]
    procs: list[tuple[list[str], subprocess.Popen[str], str | None]] = []
    for i, email in enumerate(new_users):
        target = WORK if i % 2 else HOME
        for args, stdin in (
            (["login", "--with-token"], keys[email] + "\n"),
            (["switch", target], None),
        ):
            proc = subprocess.Popen(
                cli + args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            procs.append((args, proc, stdin))
    for args, proc, stdin in procs:
        out, err = proc.communicate(stdin, timeout=120)
        assert proc.returncode == 0, (args, out, err)

    from anaconda_auth.actions import load_site_config
    from anaconda_auth.storage import accounts
    from anaconda_auth.token import TokenInfo

    config = load_site_config()
    stored = accounts.accounts(domain, config)
    assert sorted(stored) == sorted(keys)  # every account, once
    active_token = TokenInfo.load(domain)
    assert active_token.api_key == keys[active_token.username]
    for email in stored:
        if email != active_token.username:
            value = accounts.inactive_value(domain, email, config)
            assert value is not None
            assert TokenInfo._from_stored(value, "test").api_key == keys[email]


SHARED_KEYRING = '''
import json, os
from keyring.backend import KeyringBackend

class SharedFileKeyring(KeyringBackend):
    """A stand-in OS keyring both versions reach (test only, plaintext)."""
    priority = 1

    def _path(self):
        return os.path.join(os.environ["HOME"], "os-keyring.json")

    def _read(self):
        try:
            with open(self._path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _write(self, data):
        with open(self._path(), "w") as f:
            json.dump(data, f)

    def get_password(self, service, username):
        return self._read().get(service, {}).get(username)

    def set_password(self, service, username, password):
        data = self._read()
        data.setdefault(service, {})[username] = password
        self._write(data)

    def delete_password(self, service, username):
        data = self._read()
        data.get(service, {}).pop(username)
        self._write(data)
'''

REF_LOAD = """
import json, sys
from anaconda_auth.token import TokenInfo
info = TokenInfo.load(sys.argv[1])
print(json.dumps({"api_key": info.api_key, "username": info.username}))
"""


def test_0_15_reads_the_active_account(
    anaconda_idp: Any, anaconda_auth_home: Path, tmp_path: Path
) -> None:
    if REF_PYTHON is None:
        pytest.skip("the published anaconda-auth 0.15.3 is not installed (dev/test.sh)")
    domain = anaconda_idp.domain
    (tmp_path / "shared_keyring.py").write_text(SHARED_KEYRING)
    shared = {
        "PYTHONPATH": str(tmp_path),
        "PYTHON_KEYRING_BACKEND": "shared_keyring.SharedFileKeyring",
        "ANACONDA_AUTH_KEYRING_TIMEOUT": "30",
        "HOME": str(anaconda_auth_home),
    }
    ours_env = {**os.environ, **shared, "ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE": "system"}
    keys = {}
    for email in (WORK, HOME):
        anaconda_idp.add_user(email)
        keys[email] = anaconda_idp.mint_api_key(email, lifetime=30 * DAY)
        out = subprocess.run(
            [sys.executable, "-m", "anaconda_auth", "login", "--with-token"],
            input=keys[email] + "\n",
            env=ours_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr

    ref_env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("ANACONDA_", "CONDA", "PYTHON"))
    }
    ref_env.update(shared, ANACONDA_CLI_DISABLE_TELEMETRY="1")

    def ref_reads() -> dict[str, str]:
        assert REF_PYTHON is not None
        out = subprocess.run(
            [str(REF_PYTHON), "-c", REF_LOAD, domain],
            env=ref_env,
            cwd=anaconda_auth_home,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert ref_reads() == {"api_key": keys[HOME], "username": HOME}
    out = subprocess.run(
        [sys.executable, "-m", "anaconda_auth", "switch"],
        env=ours_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert ref_reads() == {"api_key": keys[WORK], "username": WORK}
    stored = json.loads((anaconda_auth_home / "os-keyring.json").read_text())
    assert f"{domain}#account:{HOME}" in stored["Anaconda Cloud"]  # the inactive one, beside


@pytest.mark.usefixtures("fresh_discovery")
def test_browser_logins_as_two_users_keep_both_and_their_repo_tokens(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real browser login (the kit's browser signs in through the login form)."""
    from support.login import RecordingUI

    from anaconda_auth.actions import login
    from anaconda_auth.token import TokenInfo

    domain = anaconda_idp.domain
    anaconda_idp.settings.auto_approve = False
    for email in (WORK, HOME):
        anaconda_idp.add_user(email)

    def browser_login(email: str) -> None:
        monkeypatch.setenv("BROWSER", anaconda_idp.browser_command_for(login=email))
        login(device=False, ui=RecordingUI(), force=True)

    browser_login(WORK)
    token = TokenInfo.load(domain)
    assert token.username == WORK
    token.set_repo_token("acme", "work-repo-token")
    token.save()

    # the second one through the CLI, which names the account kept
    monkeypatch.setenv("BROWSER", anaconda_idp.browser_command_for(login=HOME))
    result = run("login", "--force", "--browser")
    assert result.exit_code == 0, result.output
    assert f"as {HOME}" in result.stderr
    assert f"Also stored for {domain}: {WORK}" in result.stderr
    token = TokenInfo.load(domain)
    assert token.username == HOME
    assert token.repo_tokens == []  # the other account's repository tokens stay with it
    assert stored_accounts(domain) == [HOME, WORK]

    browser_login(WORK)  # back as the first user: its repository tokens are kept
    token = TokenInfo.load(domain)
    assert token.username == WORK
    assert token.get_repo_token("acme") == "work-repo-token"
    assert stored_accounts(domain) == [WORK, HOME]


def test_switch_with_three_accounts_asks_on_a_terminal(anaconda_idp: Any) -> None:
    """A real pseudo-terminal: the picker lists the other accounts and takes a number."""
    import pty
    import select
    import time

    domain = anaconda_idp.domain
    keys = {email: login_as(anaconda_idp, email) for email in (WORK, HOME, THIRD)}
    others = stored_accounts(domain)[1:]  # as the picker lists them
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anaconda_auth", "switch"],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        close_fds=True,
    )
    os.close(child)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Switch to" in seen:
            os.write(main, b"2\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(main)
    assert proc.wait(timeout=30) == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert f"1. {others[0]}" in text and f"2. {others[1]}" in text
    assert active(domain).api_key == keys[others[1]]


def test_the_python_logout_of_a_pinned_site_removes_only_that_account(
    anaconda_idp: Any, anaconda_auth_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth import actions
    from anaconda_auth.token import TokenInfo

    write_pinned_sites(anaconda_auth_home, anaconda_idp, monkeypatch)
    login_as(anaconda_idp, WORK, "--at", "work")
    home_key = login_as(anaconda_idp, HOME, "--at", "home")  # HOME is active now
    actions.logout("work")
    assert stored_accounts(anaconda_idp.domain) == [HOME]
    assert TokenInfo.load(anaconda_idp.domain).api_key == home_key
    actions.logout("work")  # nothing stored for it any more: no error
    assert not actions.is_logged_in("work")
    assert actions.is_logged_in("home")
