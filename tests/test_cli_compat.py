"""What packages and people built on anaconda-auth 0.15 expect of ``anaconda auth``.

* ``anaconda_auth.cli.sys`` and ``anaconda_auth.cli.login``: anaconda-assistant-conda patches
  the first (its ``stdout.isatty()`` decides whether the login-required handlers prompt), its
  tests patch the second (the login those handlers start);
* anaconda-client's token options (``anaconda auth --list``, ``--info``, ``-n NAME`` ...) are
  handed on to anaconda-client with 0.15's deprecation warning; without anaconda-client, a
  message saying how to install it (exit 2);
* ``anaconda auth`` without a command prints the help and exits 0; ``anaconda cloud`` is the
  same command; ``login --no-force``;
* the login-required lines start as 0.15's (``AuthenticationMissingError: Login is required to
  complete this action.``): packages match on that text.

The commands run in-process through anaconda-cli-base's real ``anaconda`` app (typer's
CliRunner), against the local identity provider. The anaconda-client stand-in below is a real
module on ``sys.path`` that records its arguments; the real anaconda-client 1.16.0 is run in
tests/e2e/test_downstream.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import typer
from anaconda_auth.plugins.cli import _state, dispatch, legacy
from typer.testing import CliRunner

import anaconda_auth.cli

LOGIN_REQUIRED = "Login is required to complete this action."
PROMPT = "Continue with interactive login?"
DEPRECATION = (
    "DeprecationWarning: Please use anaconda org auth instead for explicit management of "
    "anaconda.org auth tokens"
)


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    _state.STATE.new_command()
    yield
    _state.STATE.new_command()


@pytest.fixture
def anaconda(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``anaconda(args, input=None)``: anaconda-cli-base's ``anaconda`` app, in-process.

    ``sys.argv`` is set as the ``anaconda`` program would have it (anaconda-client reads it).
    """
    from anaconda_cli_base.cli import app

    runner = CliRunner()

    def invoke(args: list[str], input: str | None = None) -> Any:
        monkeypatch.setattr(sys, "argv", ["anaconda", *args])
        return runner.invoke(app, args, input=input, prog_name="anaconda")

    return invoke


class FakeStdout:
    """What ``anaconda_auth.cli.sys.stdout`` is when a package patches ``anaconda_auth.cli.sys``."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def patch_cli_sys(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    monkeypatch.setattr(anaconda_auth.cli, "sys", SimpleNamespace(stdout=FakeStdout(tty)))


# -- anaconda_auth.cli.sys and anaconda_auth.cli.login -------------------------------------


@pytest.mark.parametrize("command", ["auth", "cloud"])
def test_patched_cli_sys_prompts_and_patched_login_runs(
    command: str, anaconda: Any, anaconda_idp: Any, anaconda_auth_home: Path, monkeypatch: Any
) -> None:
    """0.15's test_login_required_tty, without mocks: the patched ``login`` stores a real key,
    and anaconda-cli-base runs ``api-key`` again, which then prints it."""
    from anaconda_auth.token import TokenInfo

    patch_cli_sys(monkeypatch, tty=True)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    key = anaconda_idp.mint_api_key()

    def login(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))
        TokenInfo(domain=anaconda_idp.domain, api_key=key).save()

    monkeypatch.setattr(anaconda_auth.cli, "login", login)

    declined = anaconda([command, "api-key"], input="n\n")
    assert declined.exit_code == 1, declined.output
    assert calls == []
    assert f"TokenNotFoundError: {LOGIN_REQUIRED}" in declined.stderr
    assert PROMPT in declined.stderr
    assert declined.stdout == ""

    accepted = anaconda([command, "api-key"], input="y\n")
    assert len(calls) == 1, accepted.output
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == key + "\n"
    # a second command in the same process may offer the login again
    TokenInfo(domain=anaconda_idp.domain, api_key=key).delete()
    again = anaconda([command, "api-key"], input="y\n")
    assert len(calls) == 2, again.output
    assert again.exit_code == 0, again.output


def test_the_retry_after_a_patched_login_happens_once(
    anaconda: Any, anaconda_auth_home: Path, monkeypatch: Any
) -> None:
    """A login that stores nothing: the command runs twice, then gives up (no loop)."""
    patch_cli_sys(monkeypatch, tty=True)
    calls: list[int] = []
    monkeypatch.setattr(anaconda_auth.cli, "login", lambda *a, **k: calls.append(1))
    result = anaconda(["auth", "api-key"], input="y\ny\ny\n")
    assert result.exit_code == 1, result.output
    assert calls == [1]
    assert result.stderr.count(PROMPT) == 1
    assert "Logging in again did not help." in result.stderr


def test_patched_cli_sys_not_a_tty_never_prompts(
    anaconda: Any, anaconda_auth_home: Path, monkeypatch: Any
) -> None:
    """0.15's test_login_error_handler_no_tty; the message is on stderr here (stdout of
    ``api-key`` is only ever the key)."""
    patch_cli_sys(monkeypatch, tty=False)
    calls: list[int] = []
    monkeypatch.setattr(anaconda_auth.cli, "login", lambda *a, **k: calls.append(1))
    result = anaconda(["auth", "api-key"], input="y\n")
    assert result.exit_code == 1
    assert calls == []
    assert result.stdout == ""
    assert result.stderr.startswith(f"TokenNotFoundError: {LOGIN_REQUIRED}\n"), result.stderr
    assert PROMPT not in result.stderr
    assert "anaconda auth login" in result.stderr


def test_continue_with_login_of_0_15(monkeypatch: Any, capsys: Any) -> None:
    """The helpers anaconda-ai's handlers call: the patched ``sys`` and ``login`` decide."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(anaconda_auth.cli, "login", lambda *a, **k: calls.append(k))
    patch_cli_sys(monkeypatch, tty=False)
    anaconda_auth.cli._login_required_message("AuthenticationMissingError")
    assert anaconda_auth.cli._continue_with_login() == 1
    err = capsys.readouterr().err
    assert err.startswith(f"AuthenticationMissingError: {LOGIN_REQUIRED}\n"), err
    assert calls == []

    patch_cli_sys(monkeypatch, tty=True)
    monkeypatch.setattr(sys, "stdin", _Lines("y\n"))
    assert anaconda_auth.cli._continue_with_login() == -1
    assert len(calls) == 1


def test_handlers_as_anaconda_assistant_conda_calls_them(
    anaconda_auth_home: Path, anaconda_idp: Any, monkeypatch: Any, capsys: Any
) -> None:
    """anaconda-assistant-conda 0.6 runs its chat under ``patch("anaconda_auth.cli.sys")``
    (``stdout.isatty`` set to whether its output is a terminal) and calls
    ``ERROR_HANDLERS[type(e)]`` itself, retrying on -1 up to five times."""
    from unittest.mock import patch

    from anaconda_cli_base.exceptions import ERROR_HANDLERS

    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.token import TokenInfo

    key = anaconda_idp.mint_api_key()
    logins: list[int] = []

    def login(*args: Any, **kwargs: Any) -> None:
        logins.append(1)
        TokenInfo(domain=anaconda_idp.domain, api_key=key).save()

    monkeypatch.setattr(anaconda_auth.cli, "login", login)
    handler = ERROR_HANDLERS[TokenNotFoundError]

    with patch("anaconda_auth.cli.sys") as mocked:
        mocked.stdout.isatty.return_value = False
        assert handler(TokenNotFoundError("no token")) == 1
    assert logins == []
    err = capsys.readouterr().err
    assert err.startswith(f"TokenNotFoundError: {LOGIN_REQUIRED}\n"), err

    monkeypatch.setattr(sys, "stdin", _Lines("y\ny\n"))
    with patch("anaconda_auth.cli.sys") as mocked:
        mocked.stdout.isatty.return_value = True
        assert handler(TokenNotFoundError("no token")) == -1
        # their loop calls again if the retried call fails: no second prompt, no loop
        assert handler(TokenNotFoundError("still no token")) == 1
        # the next chat in the same process may log in again
        assert handler(TokenNotFoundError("no token")) == -1
    assert logins == [1, 1]


ORDER = """
import {first}
import {second}
from anaconda_cli_base.exceptions import ERROR_HANDLERS
from anaconda_auth.exceptions import AuthenticationMissingError, TokenNotFoundError
from anaconda_auth.plugins.cli.dispatch import _cli_base_handler
types = (TokenNotFoundError, AuthenticationMissingError)
print(all(ERROR_HANDLERS[t] is _cli_base_handler for t in types))
"""


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("anaconda_auth.cli", "anaconda_cli_base.exceptions"),  # anaconda-ai's order
        ("anaconda_cli_base.exceptions", "anaconda_auth.cli"),  # anaconda-assistant-conda's
    ],
)
def test_importing_anaconda_auth_cli_registers_the_handlers(first: str, second: str) -> None:
    """As in 0.15, importing ``anaconda_auth.cli`` puts our handlers in anaconda-cli-base's
    registry, whatever was imported first."""
    code = ORDER.format(first=first, second=second)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True\n"


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self.lines.pop(0) if self.lines else ""

    def isatty(self) -> bool:
        return False


# -- 0.15's login-required texts after an HTTP 401 -------------------------------------------


def test_plain_http_401_auth_required_is_named_as_in_0_15(anaconda_idp: Any, capsys: Any) -> None:
    """Another client's ``raise_for_status()`` on a 401 ``auth_required``: 0.15's names, by
    whether the request carried credentials."""
    session = requests.Session()
    session.trust_env = False
    url = f"{anaconda_idp.url}/api/account"

    response = session.get(url, verify=anaconda_idp.ca_path, timeout=30)
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    assert dispatch.handle_exception(info.value) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"AuthenticationMissingError: {LOGIN_REQUIRED}\n"), err

    response = session.get(
        url, headers={"Authorization": "Bearer nope"}, verify=anaconda_idp.ca_path, timeout=30
    )
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    _state.STATE.new_command()
    assert dispatch.handle_exception(info.value) == 1
    err = capsys.readouterr().err
    first = "InvalidAuthentication: Your provided API Key or login token is invalid\n"
    assert err.startswith(first), err


def test_base_client_401_prints_0_15s_line(anaconda_auth_home: Path, capsys: Any) -> None:
    """A BaseClient request without a key that the server answers 401 ``auth_required``."""
    from anaconda_auth.client import BaseClient

    app = typer.Typer()

    @app.command()
    def account() -> None:
        BaseClient().get("/api/account").raise_for_status()

    @app.command()
    def other() -> None:  # two commands, so typer keeps the command name
        pass

    assert dispatch.run(app, ["account"], prog="prog") == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"AuthenticationMissingError: {LOGIN_REQUIRED}\n"), captured
    assert captured.out == ""


# -- no command, the cloud alias, login --no-force -------------------------------------------


@pytest.mark.parametrize("command", ["auth", "cloud"])
def test_no_command_prints_help_and_exits_0(command: str, anaconda: Any) -> None:
    result = anaconda([command])
    assert result.exit_code == 0, result.output
    assert f"Usage: anaconda {command} [OPTIONS] COMMAND [ARGS]..." in result.stdout
    for name in ("login", "logout", "whoami", "api-key"):
        assert name in result.stdout
    assert "anaconda org auth" in result.stdout  # where --list & co. go


def test_no_command_standalone() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "anaconda_auth"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: python -m anaconda_auth [OPTIONS] COMMAND [ARGS]..." in proc.stdout


def test_cloud_is_the_same_command(anaconda: Any, anaconda_logged_in: Any) -> None:
    result = anaconda(["cloud", "api-key"])
    assert result.exit_code == 0, result.output
    assert result.stdout == anaconda_logged_in.api_key + "\n"


@pytest.mark.parametrize("command", ["auth", "cloud"])
def test_login_no_force_keeps_the_stored_key(
    command: str, anaconda: Any, anaconda_logged_in: Any, anaconda_idp: Any
) -> None:
    result = anaconda([command, "login", "--no-force"])
    assert result.exit_code == 0, result.output
    assert f"already logged in to {anaconda_idp.domain}" in result.stderr
    assert not anaconda_idp.requests_to("api_keys")
    assert anaconda([command, "api-key"]).stdout == anaconda_logged_in.api_key + "\n"


# -- anaconda-client's options ---------------------------------------------------------------

CLIENT_STAND_IN = """
CALLS = []


def main(args=None, *, exit_=True, allow_plugin_main=True):
    CALLS.append((list(args), allow_plugin_main))
    if "--fail" in args:
        raise ConnectionError("anaconda.org cannot be reached")
"""


@pytest.fixture
def client_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``binstar_client.scripts.cli`` on ``sys.path``, recording how ``main`` is called."""
    package = tmp_path / "site" / "binstar_client"
    (package / "scripts").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "scripts" / "__init__.py").write_text("")
    (package / "scripts" / "cli.py").write_text(textwrap.dedent(CLIENT_STAND_IN))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("binstar_client", "binstar_client.scripts", "binstar_client.scripts.cli"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import binstar_client.scripts.cli as module

    yield module
    for name in ("binstar_client", "binstar_client.scripts", "binstar_client.scripts.cli"):
        sys.modules.pop(name, None)


OPTIONS_0_15 = [
    ("-n", "someuser"),
    ("--name", "someuser"),
    ("--name=someuser",),
    ("-nsomeuser",),
    ("-o", "someorg"),
    ("--org", "someorg"),
    ("--organization", "someorg"),
    ("--strength", "strong"),
    ("--strong",),
    ("-w",),
    ("--weak",),
    ("--url", "https://some-server.com"),
    ("--max-age", "3600"),
    ("-s", "repo conda:download"),
    ("--scopes", "repo conda:download"),
    ("--out", "some-file.log"),
    ("-x",),
    ("--list-scopes",),
    ("-l",),
    ("--list",),
    ("-r", "token-1"),
    ("--remove", "token-1"),
    ("-c",),
    ("--create",),
    ("-i",),
    ("--info",),
    ("--current-info",),
    ("--create", "-n", "x", "--scopes", "conda:download", "--max-age", "60"),
]


@pytest.mark.parametrize("options", OPTIONS_0_15, ids=" ".join)
def test_legacy_options_go_to_anaconda_client(
    options: tuple[str, ...], anaconda: Any, client_stand_in: Any
) -> None:
    result = anaconda(["auth", *options])
    assert result.exit_code == 0, result.output
    calls = client_stand_in.CALLS
    assert calls == [(["auth", *options], False)]
    assert result.stderr.startswith(DEPRECATION), result.stderr
    assert result.stdout == ""


def test_hand_off_arguments(anaconda: Any, client_stand_in: Any) -> None:
    """anaconda-client's top-level options before ``auth`` reach it; ``cloud`` becomes its
    ``auth``; our ``-v`` moves where anaconda-client accepts it."""
    calls = client_stand_in.CALLS
    assert anaconda(["cloud", "--list"]).exit_code == 0
    assert calls.pop() == (["auth", "--list"], False)
    assert anaconda(["auth", "-v", "--info"]).exit_code == 0
    assert calls.pop() == (["-v", "auth", "--info"], False)
    # what 0.15 handed over: sys.argv[1:] (here `anaconda -t TOKEN auth --info` as typed)
    assert legacy.client_arguments(["--info"], ["anaconda", "-t", "tok", "auth", "--info"]) == [
        "-t",
        "tok",
        "auth",
        "--info",
    ]
    # an embedding program's argv that does not end with the arguments: none of it
    assert legacy.client_arguments(["--list"], ["prog", "something", "else"]) == [
        "auth",
        "--list",
    ]


def test_anaconda_client_errors_get_our_handler(anaconda: Any, client_stand_in: Any) -> None:
    result = anaconda(["auth", "--list", "--fail"])
    assert result.exit_code == 1, result.output
    assert "ConnectionError: anaconda.org cannot be reached" in result.stderr
    assert "anaconda --verbose auth --list --fail" in result.stderr
    assert result.stdout == ""


def test_our_commands_are_never_handed_off(anaconda: Any, client_stand_in: Any) -> None:
    for args in (
        ["auth", "api-key", "--name", "x"],  # after a command: ours (and wrong)
        ["auth", "--", "--list"],
        ["auth", "--nope"],
    ):
        result = anaconda(args)
        assert result.exit_code == 2, (args, result.output)
        assert DEPRECATION not in result.stderr
    assert anaconda(["auth", "-V"]).exit_code == 0
    assert client_stand_in.CALLS == []


@pytest.mark.parametrize(
    ("args", "legacy_args"),
    [
        (["--list"], ["--list"]),
        (["-lc"], ["-lc"]),
        (["-v", "--info"], ["-v", "--info"]),
        (["--max-age=5", "-c"], ["--max-age=5", "-c"]),
        (["login"], None),
        (["login", "--name", "x"], None),
        (["--", "--list"], None),
        (["-h"], None),
        (["--version"], None),
        (["-v", "whoami"], None),
        ([], None),
    ],
)
def test_legacy_arguments(args: list[str], legacy_args: list[str] | None) -> None:
    assert legacy.legacy_arguments(args) == legacy_args


def test_without_anaconda_client(anaconda: Any) -> None:
    """anaconda-client is not installed: how to install it, and exit 2 (nothing ran)."""
    if _importable("binstar_client"):
        pytest.skip("anaconda-client is installed in this environment")
    result = anaconda(["auth", "--list-scopes"])
    assert result.exit_code == 2, result.output
    err = " ".join(result.stderr.split())
    assert "anaconda-client is not installed" in err
    assert "pip install anaconda-client" in err
    assert "conda install anaconda-client" in err
    assert "`anaconda org auth --list-scopes`" in err
    assert result.stdout == ""

    standalone = subprocess.run(
        [sys.executable, "-m", "anaconda_auth", "--create", "-n", "ci"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": ""},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert standalone.returncode == 2, standalone.stderr
    assert "pip install anaconda-client" in standalone.stderr
    assert "python -m anaconda_auth --help" in standalone.stderr


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
