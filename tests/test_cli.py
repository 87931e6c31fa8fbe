"""The ``anaconda auth`` CLI module: its import cost, its registration with anaconda-cli-base,
the error-handler lookup and rendering, the standalone runner, and the plugins / config
commands. End-to-end runs against the identity provider are in tests/e2e/test_cli_*.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import typer
from anaconda_auth.plugins.cli import _state, dispatch, error_handlers
from support.login import free_port
from support.processes import run_python

from anaconda_auth import exceptions as exc_module
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import RETRY_AFTER_LOGIN, ErrorHandler

HEAVY = {
    "rich",
    "requests",
    "urllib3",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "keyring",
    "cryptography",
    "pluggy",
}


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    def reset() -> None:
        _state.STATE.site = None
        _state.STATE.verbose = False
        _state.STATE.retried = False
        _state.STATE.standalone_prog = None

    reset()
    yield
    reset()


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_python(code, {**os.environ, **(env or {})})


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anaconda_auth", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


# -- importing the entry point ------------------------------------------------------------------

NEW_MODULES = """
import json, sys
import typer
{before}
loaded = set(sys.modules)
import anaconda_auth.plugins.cli as cli
new = sorted(set(sys.modules) - loaded)
commands = sorted(typer.main.get_command(cli.app).commands)
print(json.dumps({{"new": new, "commands": commands}}))
"""


@pytest.mark.parametrize(
    "before",
    ["", "import anaconda_cli_base.exceptions"],
    ids=["alone", "after-anaconda-cli-base"],
)
def test_import_loads_nothing_heavy(before: str) -> None:
    result = python(NEW_MODULES.format(before=before))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    heavy = sorted(m for m in data["new"] if m.split(".")[0] in HEAVY)
    assert heavy == []
    ours = [m for m in data["new"] if m.startswith("anaconda_auth")]
    assert "anaconda_auth.plugins.cli.commands" in ours
    for lazy in ("config", "actions", "manager", "exceptions", "client", "token"):
        assert f"anaconda_auth.{lazy}" not in ours
    assert "anaconda_cli_base" not in {m.split(".")[0] for m in data["new"]}
    assert data["commands"] == [
        "api-key",
        "config",
        "login",
        "logout",
        "plugins",
        "status",
        "switch",
        "whoami",
    ]


def test_import_never_raises_with_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[plugin.auth\nthis is not toml")
    env = {"ANACONDA_CONFIG_TOML": str(config), "ANACONDA_AUTH_SSL_VERIFY": "maybe"}
    assert python("import anaconda_auth.plugins.cli", env).returncode == 0
    version = cli("-V", env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("anaconda-auth, version ")


REGISTRY = """
import sys
{first}
{second}
{third}
from anaconda_cli_base.exceptions import ERROR_HANDLERS
import requests
from anaconda_auth import exceptions as e
from anaconda_auth.plugins.cli.dispatch import _cli_base_handler
types = [requests.HTTPError, requests.ConnectionError, requests.exceptions.SSLError,
         e.TokenNotFoundError, e.TokenExpiredError, e.AuthenticationMissingError,
         e.InvalidAuthentication, e.DeviceFlowDenied, e.StorageError, e.AnacondaAuthError]
print(all(ERROR_HANDLERS.get(t) is _cli_base_handler for t in types))
"""


@pytest.mark.parametrize(
    "order",
    [
        ("import anaconda_cli_base.exceptions", "import anaconda_auth.plugins.cli", ""),
        ("import anaconda_auth.exceptions", "import anaconda_cli_base.exceptions", ""),
        ("import anaconda_cli_base.exceptions", "import anaconda_auth.exceptions", ""),
    ],
    ids=["cli-base-then-plugin", "exceptions-first", "no-plugin"],
)
def test_registration_with_anaconda_cli_base(order: tuple[str, str, str]) -> None:
    first, second, third = order
    if "plugins.cli" not in first + second:
        third = "import anaconda_auth.plugins.cli"
    # exceptions imported before the plugin (but after cli-base): registered at plugin load
    result = python(REGISTRY.format(first=first, second=second, third=third))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_nothing_registered_without_the_plugin() -> None:
    result = python(
        """
        import anaconda_cli_base.exceptions as x, anaconda_auth.exceptions, requests
        print(requests.HTTPError in x.ERROR_HANDLERS)
        """
    )
    assert result.stdout.strip() == "False", result.stderr


# -- finding and running handlers ---------------------------------------------------------------


class CustomError(exc_module.DeviceFlowError):
    pass


class MorePrecise(CustomError):
    pass


def register_plugin(plugin: object) -> None:
    from anaconda_auth.manager import get_plugin_manager

    get_plugin_manager().register(plugin, name=f"test-{id(plugin)}")


def test_handlers_are_found_along_the_mro() -> None:
    find = dispatch.find_handler
    assert find(exc_module.TokenNotFoundError("x")).handle is error_handlers.login_required  # type: ignore[union-attr]
    assert find(exc_module.InvalidAuthentication("x")).handle is error_handlers.login_required  # type: ignore[union-attr]
    assert find(exc_module.DeviceFlowDenied("x")).handle is error_handlers.anaconda_auth_error  # type: ignore[union-attr]
    assert find(requests.HTTPError("x")).handle is error_handlers.http_error  # type: ignore[union-attr]
    assert find(requests.exceptions.SSLError("x")).handle is error_handlers.ssl_error  # type: ignore[union-attr]
    assert find(requests.exceptions.ProxyError("x")).handle is error_handlers.connection_error  # type: ignore[union-attr]
    assert find(ValueError("x")) is None

    seen: list[str] = []

    class Plugin:
        @hookimpl
        def anaconda_auth_error_handlers(self) -> list[ErrorHandler]:
            return [
                ErrorHandler("custom", CustomError, lambda e: seen.append("custom") or 7),
            ]

    register_plugin(Plugin())
    assert dispatch.handle_exception(MorePrecise("boom")) == 7
    assert seen == ["custom"]
    # the built-in still covers its other subclasses
    assert find(exc_module.DeviceFlowTimeout("x")).handle is error_handlers.anaconda_auth_error  # type: ignore[union-attr]


def test_a_broken_handler_falls_back_to_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(exc: BaseException) -> int:
        raise RuntimeError("handler bug")

    class Plugin:
        @hookimpl
        def anaconda_auth_error_handlers(self) -> list[ErrorHandler]:
            return [ErrorHandler("broken", CustomError, broken)]

    register_plugin(Plugin())
    assert dispatch.handle_exception(CustomError("the real problem")) == 1
    assert "CustomError: the real problem" in capsys.readouterr().err


def test_unhandled_exceptions_print_name_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert dispatch.handle_exception(KeyError("[bold]x")) == 1
    assert "KeyError: '[bold]x'" in capsys.readouterr().err


def test_login_required_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    _state.STATE.site = "work"
    code = dispatch.handle_exception(exc_module.TokenNotFoundError("No stored token"))
    assert code == 1
    err = capsys.readouterr().err
    assert "TokenNotFoundError: Login is required to complete this action." in err
    assert "anaconda auth login --at work" in err
    assert "ANACONDA_AUTH_API_KEY" in err
    assert "[y/n]" not in err


def test_login_required_with_a_configured_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "not-a-valid-key-1234")
    code = dispatch.handle_exception(exc_module.InvalidAuthentication("401"))
    assert code == 1
    err = capsys.readouterr().err
    assert "InvalidAuthentication: Your provided API Key or login token is invalid" in err
    assert "The API key comes from ANACONDA_AUTH_API_KEY" in err
    assert "not-a-valid-key-1234" not in err


def test_http_error_from_a_real_server(
    anaconda_idp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with anaconda_idp.http_session() as session:
        response = session.get(f"{anaconda_idp.url}/api/status/409", timeout=30)
        with pytest.raises(requests.HTTPError) as info:
            response.raise_for_status()
        assert dispatch.handle_exception(info.value) == 1
        err = capsys.readouterr().err
        url = f"{anaconda_idp.url}/api/status/409"
        assert f"HTTPError: 409 Client Error: CONFLICT for url: {url}" in err
        assert "  as asked" in err

        # a plain HTTPError whose body says auth_required is a login-required error too
        response = session.get(f"{anaconda_idp.url}/api/account", timeout=30)
        with pytest.raises(requests.HTTPError) as info:
            response.raise_for_status()
    assert dispatch.handle_exception(info.value) == 1
    err = capsys.readouterr().err
    assert "AuthenticationMissingError: Login is required to complete this action." in err
    assert "anaconda auth login" in err


def test_connection_and_tls_errors(anaconda_idp: Any, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.ConnectionError) as info:
        session.get(f"https://127.0.0.1:{port}/", timeout=10)
    assert dispatch.handle_exception(info.value) == 1
    err = capsys.readouterr().err
    assert f"ConnectionError: Could not connect to 127.0.0.1:{port}." in err

    import certifi

    with pytest.raises(requests.exceptions.SSLError) as ssl_info:
        session.get(anaconda_idp.url, verify=certifi.where(), timeout=10)
    assert dispatch.handle_exception(ssl_info.value) == 1
    err = capsys.readouterr().err
    assert f"SSLError: The TLS certificate of {anaconda_idp.domain} could not be verified." in err
    assert "ANACONDA_AUTH_SSL_VERIFY" in err


# -- the standalone runner -------------------------------------------------------------------


def test_run_retries_once_then_gives_up(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        calls.append(1)
        raise CustomError("still failing")

    @app.command()
    def other() -> None:  # two commands, so typer keeps the command name
        pass

    class Plugin:
        @hookimpl
        def anaconda_auth_error_handlers(self) -> list[ErrorHandler]:
            return [ErrorHandler("retry", CustomError, lambda e: RETRY_AFTER_LOGIN)]

    register_plugin(Plugin())
    assert dispatch.run(app, ["fail"], prog="prog") == 1
    assert len(calls) == 2
    err = capsys.readouterr().err
    assert "prog --verbose fail" in err


def test_run_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    app = typer.Typer()

    @app.command()
    def ok() -> None:
        pass

    @app.command()
    def exits(code: int) -> None:
        raise typer.Exit(code)

    assert dispatch.run(app, ["ok"]) == 0
    assert dispatch.run(app, ["exits", "3"]) == 3
    assert dispatch.run(app, ["nope"]) == 2
    assert dispatch.run(app, ["exits", "not-a-number"]) == 2


# -- plugins and config ---------------------------------------------------------------------


def write_dist(site: Path, name: str, group: str, entry: str, module: str, source: str) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry} = {module}\n")
    (info / "RECORD").write_text("")


def test_plugins_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_dist(site, "broken-plugin", "anaconda_auth", "broken", "broken_plugin", "1 / 0\n")
    env = {"PYTHONPATH": str(site), "ANACONDA_AUTH_DISABLED_PLUGINS": "system"}
    result = cli("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["anaconda-keyring"]["status"] == "loaded"
    assert plugins["anaconda-keyring"]["builtin"] is True
    assert plugins["cli-error-handlers"]["status"] == "loaded"
    assert plugins["system"]["status"] == "disabled"
    assert plugins["broken"]["status"].startswith("failed: ZeroDivisionError")
    assert plugins["broken"]["distribution"] == "broken-plugin"
    assert plugins["broken"]["version"] == "2.0"
    backends = {b["name"]: b for b in data["storage_backends"]}
    assert "system" not in backends
    assert backends["anaconda-keyring"]["preferred"] is True
    assert backends["anaconda-keyring"]["available"] is True
    assert backends["environment"]["read_only"] is True
    assert all(b["available"] or b["reason"] for b in backends.values())
    assert data["read_order"][0] == "environment"
    ranks = [s["rank"] for s in data["config_sources"]]
    assert ranks == sorted(ranks, reverse=True)
    assert {"environment", "config-toml"} <= {s["name"] for s in data["config_sources"]}
    assert "broken" in result.stderr  # the plugin warning

    text = cli("plugins", env=env)
    assert text.returncode == 0, text.stderr
    for title in ("Plugins", "Token storage", "Config sources (the highest rank wins)"):
        assert title in text.stdout
    assert "failed: ZeroDivisionError" in text.stdout
    assert "preferred: new API keys are stored here" in text.stdout
    assert "[plugin.auth]" in text.stdout  # plain text, not rich markup


def test_config_command_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[plugin.auth]\nuse_device_flow = true\nssl_verfy = false\n")
    secret = "eyJhbGciOiJub25lIn0.c2VjcmV0LXZhbHVl.c2ln"
    env = {
        "ANACONDA_CONFIG_TOML": str(config),
        "ANACONDA_AUTH_API_KEY": secret,
        "ANACONDA_AUTH_DOMAIN": "example.test",
    }
    result = cli("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {r["key"]: r for r in data["settings"]}
    assert rows["domain"]["value"] == "example.test"
    assert rows["domain"]["location"] == "ANACONDA_AUTH_DOMAIN"
    assert rows["api_key"]["masked"] is True
    assert rows["api_key"]["location"] == "ANACONDA_AUTH_API_KEY"
    assert rows["use_device_flow"]["value"] is True
    assert "config.toml" in rows["use_device_flow"]["location"]
    assert rows["client_id"]["source"] == "default"
    assert [u["key"] for u in data["unknown_keys"]] == ["ssl_verfy"]
    assert secret not in result.stdout + result.stderr

    text = cli("config", env=env)
    assert text.returncode == 0, text.stderr
    assert "ANACONDA_AUTH_DOMAIN" in text.stdout
    assert "unknown setting 'ssl_verfy'" in text.stderr
    assert secret not in text.stdout + text.stderr
    assert secret[-12:] not in text.stdout + text.stderr


def test_config_error_is_reported(tmp_path: Path) -> None:
    result = cli("config", env={"ANACONDA_AUTH_USE_DEVICE_FLOW": "sometimes"})
    assert result.returncode == 1
    assert "ConfigError" in result.stderr
    assert "ANACONDA_AUTH_USE_DEVICE_FLOW" in result.stderr
    assert "python -m anaconda_auth --verbose config" in result.stderr
