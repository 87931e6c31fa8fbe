"""``anaconda auth status``, ``login --with-token``, the expiry warning and a configured key that
cannot be used.

The real ``anaconda auth`` app runs in-process (typer's CliRunner) against the kit's identity
providers: the session's one (reached as ``127.0.0.1:<port>`` and as ``localhost:<port>``, two
domains) and a second one started here, so that three sites hold three different keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.cli import _state, app
from support.login import free_port
from typer.testing import CliRunner

JSON_KEYS = [
    "site",
    "domain",
    "default",
    "account",
    "active",
    "logged_in",
    "source",
    "expires_at",
    "valid",
    "error",
]
DAY = 86400


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    _state.STATE.new_command()
    yield
    _state.STATE.new_command()


@pytest.fixture(scope="module")
def second_idp() -> Iterator[Any]:
    from anaconda_auth.plugins.testing.idp import IdentityProvider

    with IdentityProvider() as idp:
        yield idp


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
    _state.STATE.new_command()
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "250", **(env or {})})


def write_sites(home: Path, sites: dict[str, tuple[str, Path]], default: str) -> None:
    lines = [f'default_site = "{default}"', ""]
    for name, (domain, ca) in sites.items():
        lines += [f'[sites."{name}"]', f'domain = "{domain}"', f'ssl_verify = "{ca}"', ""]
    path = home / ".anaconda" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


@pytest.fixture
def sites(
    anaconda_idp: Any, second_idp: Any, anaconda_auth_home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Four sites: ``main`` (default), ``alias`` (the same provider as localhost), ``other``
    (the second provider), ``down`` (a port where nothing listens). Site name -> domain."""
    monkeypatch.delenv("ANACONDA_AUTH_DOMAIN")
    monkeypatch.delenv("ANACONDA_AUTH_SSL_VERIFY")
    port = anaconda_idp.port
    domains = {
        "main": (anaconda_idp.domain, anaconda_idp.ca_path),
        "alias": (f"localhost:{port}", anaconda_idp.ca_path),
        "other": (second_idp.domain, second_idp.ca_path),
        "down": (f"127.0.0.1:{free_port()}", anaconda_idp.ca_path),
    }
    write_sites(anaconda_auth_home, domains, default="main")
    return {name: domain for name, (domain, _) in domains.items()}


def store(site: str, api_key: str, username: str | None = None) -> None:
    from anaconda_auth.actions import load_site_config
    from anaconda_auth.token import TokenInfo

    config = load_site_config(site)
    TokenInfo(domain=config.domain, api_key=api_key, username=username).save(config=config)


def stored(site: str) -> Any:
    from anaconda_auth.actions import load_site_config
    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.token import TokenInfo

    config = load_site_config(site)
    try:
        return TokenInfo.load(config.domain, config=config)
    except TokenNotFoundError:
        return None


def by_site(result: Any) -> dict[str, dict[str, Any]]:
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    for row in data:
        assert list(row) == JSON_KEYS
    return {row["site"]: row for row in data}


# -- status ------------------------------------------------------------------------------------


def test_status_online_valid_expired_revoked_and_unreachable(
    sites: dict[str, str], anaconda_idp: Any, second_idp: Any
) -> None:
    valid = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    expired = anaconda_idp.mint_api_key(lifetime=-60)
    revoked = second_idp.mint_api_key(lifetime=30 * DAY)
    second_idp.revoke_api_key(revoked)
    unreachable = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    store("main", valid, "alice@example.com")
    store("alias", expired, "alice@example.com")
    store("other", revoked)
    store("down", unreachable, "bob@example.com")
    anaconda_idp.clear_requests()

    result = run("status", "--json")
    assert result.exit_code == 1, result.output
    rows = by_site(result)
    assert list(rows) == ["main", "alias", "other", "down"]  # the default first

    main = rows["main"]
    assert main["default"] is True and main["logged_in"] is True and main["active"] is True
    assert main["valid"] is True and main["error"] is None
    assert main["account"] == "alice@example.com"
    assert main["source"] == "anaconda-keyring"
    assert main["domain"] == sites["main"]
    expires = dt.datetime.fromisoformat(main["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.timezone.utc)

    assert rows["alias"]["valid"] is False and "expired on" in rows["alias"]["error"]
    assert rows["other"]["valid"] is False and "rejected" in rows["other"]["error"]
    assert rows["down"]["valid"] is None and "could not reach" in rows["down"]["error"]
    assert all(rows[s]["default"] is False for s in ("alias", "other", "down"))

    # one request per unexpired credential; none with the expired key
    sent = [r.headers.get("Authorization") for r in anaconda_idp.requests_to("account")]
    assert sent == [f"Bearer {valid}"]
    assert len(second_idp.requests_to("account")) >= 1
    for key in (valid, expired, revoked, unreachable):
        assert key not in result.output


def test_status_exit_0_when_every_stored_key_is_accepted(
    sites: dict[str, str], anaconda_idp: Any
) -> None:
    store("main", anaconda_idp.mint_api_key(lifetime=30 * DAY), "alice@example.com")
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    rows = by_site(result)
    assert rows["main"]["valid"] is True
    assert rows["other"]["logged_in"] is False and rows["other"]["valid"] is None
    assert rows["other"]["active"] is False and rows["other"]["account"] is None


def test_status_offline_sends_nothing(
    sites: dict[str, str], anaconda_idp: Any, second_idp: Any
) -> None:
    revoked = second_idp.mint_api_key(lifetime=30 * DAY)
    second_idp.revoke_api_key(revoked)
    store("main", anaconda_idp.mint_api_key(lifetime=30 * DAY), "alice@example.com")
    store("other", revoked)
    anaconda_idp.clear_requests()
    second_idp.clear_requests()

    result = run("status", "--json", "--offline")
    assert result.exit_code == 0, result.output  # the revocation cannot be seen offline
    rows = by_site(result)
    assert rows["main"]["valid"] is None and rows["other"]["valid"] is None
    assert not anaconda_idp.requests and not second_idp.requests

    store("alias", anaconda_idp.mint_api_key(lifetime=-60))
    expired = run("status", "--offline")
    assert expired.exit_code == 1, expired.output
    assert "expired" in expired.stdout


def test_status_nothing_logged_in_is_exit_1(sites: dict[str, str]) -> None:
    result = run("status")
    assert result.exit_code == 1, result.output
    assert "not logged in" in result.stdout
    assert "anaconda auth login" in result.stderr


def test_status_table_shows_relative_expiry_and_soon(
    sites: dict[str, str], anaconda_idp: Any
) -> None:
    store("main", anaconda_idp.mint_api_key(lifetime=3 * DAY + 600), "alice@example.com")
    result = run("status")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "in 3 days" in out
    assert "expires soon" in out
    assert "valid" in out


# -- login --with-token ------------------------------------------------------------------------


def test_with_token_from_a_pipe_stores_as_a_login_would(
    sites: dict[str, str], anaconda_idp: Any
) -> None:
    anaconda_idp.add_user("bob@example.com")
    key = anaconda_idp.mint_api_key("bob@example.com", lifetime=30 * DAY)
    result = run("login", "--with-token", "--at", "alias", input=key + "\n")
    assert result.exit_code == 0, result.output
    assert "bob@example.com" in result.stderr
    assert key not in result.output
    token = stored("alias")
    assert token.api_key == key
    assert token.username == "bob@example.com"  # from the server's reply
    assert token.domain == sites["alias"]
    assert stored("main") is None  # another domain: untouched

    # what other commands then see
    who = run("whoami", "--at", "alias")
    assert who.exit_code == 0, who.output
    assert "bob@example.com" in who.stdout


@pytest.mark.parametrize("case", ["empty", "expired", "rejected", "garbage"])
def test_with_token_refuses_and_keeps_the_stored_key(
    case: str, sites: dict[str, str], anaconda_idp: Any
) -> None:
    old = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    store("main", old, "alice@example.com")
    if case == "empty":
        given, expected = "  \n", "No API key on standard input"
    elif case == "expired":
        given, expected = anaconda_idp.mint_api_key(lifetime=-3600), "expired on"
    elif case == "rejected":
        given = anaconda_idp.mint_api_key(lifetime=DAY)
        anaconda_idp.revoke_api_key(given)
        expected = "rejected"
    else:
        given, expected = "not-a-key", "rejected"
    anaconda_idp.clear_requests()
    result = run("login", "--with-token", input=given)
    assert result.exit_code == 1, result.output
    assert expected in result.stderr
    assert "Nothing was stored" in result.stderr
    assert stored("main").api_key == old
    if case in ("empty", "expired"):
        assert not anaconda_idp.requests_to("account")
    if given.strip():
        assert given.strip() not in result.output


def test_with_token_offline_and_unreachable(sites: dict[str, str], anaconda_idp: Any) -> None:
    key = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    down = run("login", "--with-token", "--at", "down", input=key)
    assert down.exit_code == 1, down.output
    assert "--offline" in down.stderr
    assert stored("down") is None

    offline = run("login", "--with-token", "--at", "down", "--offline", input=key)
    assert offline.exit_code == 0, offline.output
    assert stored("down").api_key == key

    expired = anaconda_idp.mint_api_key(lifetime=-60)
    still = run("login", "--with-token", "--at", "down", "--offline", input=expired)
    assert still.exit_code == 1 and stored("down").api_key == key


def test_with_token_never_takes_the_key_from_argv(sites: dict[str, str]) -> None:
    result = run("login", "--with-token", "eyJhbGciOi.abc.def")
    assert result.exit_code == 2
    assert run("login", "--offline").exit_code == 2


# -- the expiry warning ------------------------------------------------------------------------


def test_expiring_key_warns_once_on_stderr(sites: dict[str, str], anaconda_idp: Any) -> None:
    key = anaconda_idp.mint_api_key(lifetime=2 * DAY)
    store("main", key, "alice@example.com")
    api_key = run("api-key")
    assert api_key.exit_code == 0, api_key.output
    assert api_key.stdout == key + "\n"
    warnings = [line for line in api_key.stderr.splitlines() if "expires on" in line]
    assert len(warnings) == 1
    assert "main" in warnings[0] and "alice@example.com" in warnings[0]
    assert "anaconda auth login --force" in warnings[0]

    who = run("whoami")
    assert who.exit_code == 0, who.output
    assert "expires soon" in who.stdout

    # the warning window is configurable; 0 turns it off
    quiet = run("api-key", env={"ANACONDA_AUTH_EXPIRY_WARNING_DAYS": "1"})
    assert quiet.exit_code == 0 and "expires on" not in quiet.stderr
    off = run("api-key", env={"ANACONDA_AUTH_EXPIRY_WARNING_DAYS": "0"})
    assert off.exit_code == 0 and "expires on" not in off.stderr


def test_a_key_far_from_expiry_does_not_warn(sites: dict[str, str], anaconda_idp: Any) -> None:
    store("main", anaconda_idp.mint_api_key(lifetime=30 * DAY))
    result = run("api-key")
    assert result.exit_code == 0 and result.stderr == ""


def test_expired_key_error_names_the_date(anaconda_auth_home: Path, anaconda_idp: Any) -> None:
    from anaconda_auth.exceptions import TokenExpiredError
    from anaconda_auth.token import TokenInfo

    key = anaconda_idp.mint_api_key(lifetime=-2 * DAY)
    TokenInfo(domain=anaconda_idp.domain, api_key=key).save()
    with pytest.raises(TokenExpiredError) as info:
        TokenInfo.load(anaconda_idp.domain).get_access_token()
    day = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).strftime("%Y-%m-%d")
    assert f"expired on {day}" in str(info.value)
    assert "anaconda login --force" in str(info.value)
    assert str(info.value).startswith("Your login token has expired")  # 0.15's sentence
    assert info.value.expires_at is not None and info.value.domain == anaconda_idp.domain
    import pickle

    again = pickle.loads(pickle.dumps(info.value))
    assert again.expires_at == info.value.expires_at and str(again) == str(info.value)


# -- a configured key that cannot be used ------------------------------------------------------


def test_garbage_environment_key_is_reported_not_already_logged_in(
    anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    result = run("login", env={"ANACONDA_AUTH_API_KEY": "garbage"})
    assert result.exit_code == 1, result.output
    assert "already logged in" not in result.output
    assert "ANACONDA_AUTH_API_KEY" in result.stderr
    assert "cannot be used" in result.stderr
    assert "unset ANACONDA_AUTH_API_KEY" in result.stderr
    assert not anaconda_idp.requests_to("authorize")


def test_expired_environment_key_is_reported_with_its_date(
    anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    key = anaconda_idp.mint_api_key(lifetime=-60)
    anaconda_idp.clear_requests()
    result = run("login", env={"ANACONDA_AUTH_API_KEY": key})
    assert result.exit_code == 1, result.output
    assert "expired on" in result.stderr and "unset ANACONDA_AUTH_API_KEY" in result.stderr
    assert not anaconda_idp.requests, "neither a check nor a login with an expired key"
    assert key not in result.output


def test_valid_environment_key_is_already_logged_in(
    anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    key = anaconda_idp.mint_api_key(lifetime=30 * DAY)
    result = run("login", env={"ANACONDA_AUTH_API_KEY": key})
    assert result.exit_code == 0, result.output
    assert "already logged in" in result.stderr
    status = run("status", "--json", env={"ANACONDA_AUTH_API_KEY": key})
    row = json.loads(status.stdout)[0]
    assert row["source"] == "ANACONDA_AUTH_API_KEY" and row["valid"] is True
    assert status.exit_code == 0, status.output


def test_a_request_sent_without_the_expired_key_is_explained(
    anaconda_auth_home: Path, anaconda_idp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another plugin's ``BaseClient`` request goes out without the expired key; the server
    answers ``auth_required``; the CLI's handler names the key and its expiry date."""
    from anaconda_auth.plugins.cli import dispatch

    from anaconda_auth.client import BaseClient
    from anaconda_auth.exceptions import AuthenticationMissingError
    from anaconda_auth.token import TokenInfo

    key = anaconda_idp.mint_api_key(lifetime=-3 * DAY)
    TokenInfo(domain=anaconda_idp.domain, api_key=key, username="alice@example.com").save()
    with BaseClient() as client:
        response = client.get("/api/account")
    with pytest.raises(AuthenticationMissingError) as info:
        response.raise_for_status()
    capsys.readouterr()
    assert dispatch.handle_exception(info.value) == 1
    err = capsys.readouterr().err
    day = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).strftime("%Y-%m-%d")
    assert "AuthenticationMissingError: Login is required" in err  # 0.15's line first
    assert f"Your API key for {anaconda_idp.domain} (alice@example.com) expired on {day}" in err
    assert "anaconda auth login" in err
    assert key not in err


def test_a_broken_site_is_one_row_not_the_end(
    sites: dict[str, str], anaconda_idp: Any, anaconda_auth_home: Path
) -> None:
    store("main", anaconda_idp.mint_api_key(lifetime=30 * DAY), "alice@example.com")
    config = anaconda_auth_home / ".anaconda" / "config.toml"
    config.write_text(
        config.read_text() + '\n[sites.broken]\ndomain = "x.example.com"\n'
        'ssl_verify = "/no/such/ca.pem"\n'
    )
    result = run("status", "--json")
    assert result.exit_code == 1, result.output
    rows = by_site(result)
    assert rows["main"]["valid"] is True
    assert rows["broken"]["error"] and "ConfigError" in rows["broken"]["error"]
    assert rows["broken"]["logged_in"] is False
