"""A broken plugin or a broken environment never takes the ``anaconda`` command down.

anaconda-cli-base imports every ``anaconda_cli.subcommand`` entry point when any ``anaconda``
command starts, without a guard: an exception while importing ours (``auth``, ``cloud``,
``sites``), or while anaconda-client's plugin imports the names it takes from us
(``anaconda_auth.actions._do_auth_flow`` ...), ends every ``anaconda`` command with a
traceback. So those imports must not raise on anything the environment can hold: a config.toml
with invalid values, invalid ``ANACONDA_AUTH_*`` values, a keyring backend that does not exist, a
``.env`` that is not one, and third-party ``anaconda_auth`` plugins that fail to import. A broken
third-party plugin is skipped with a warning on stderr, and the commands work.

Real subprocesses of the installed ``anaconda`` program, against the local identity provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.plugin_dists import write_dist

ANACONDA = str(Path(sys.executable).parent / "anaconda")

#: What anaconda-client 1.16 imports from us when its ``org`` plugin loads, and the names of
#: anaconda_auth.cli that packages built on 0.15 import or patch.
DOWNSTREAM_IMPORTS = """
from anaconda_auth.actions import _do_auth_flow
from anaconda_auth.config import AnacondaAuthSite
from anaconda_auth.token import TokenInfo
from anaconda_auth.exceptions import TokenNotFoundError
from anaconda_auth.client import BaseClient
from anaconda_auth.cli import app, sys, login, _login_required_message, _continue_with_login
import anaconda_auth.plugins.cli, anaconda_auth.plugins.cli.sites


class DotOrgSite(AnacondaAuthSite):  # as binstar_client/commands/login.py defines it
    @property
    def domain_for_keyring_token(self):
        return self.domain

print("imported")
"""


@pytest.fixture
def broken_env(tmp_path: Path) -> dict[str, str]:
    """Everything the environment can get wrong at once, in a fresh HOME."""
    home = tmp_path / "home"
    (home / ".anaconda").mkdir(parents=True)
    # valid TOML (anaconda-cli-base itself stops on a syntax error before any plugin loads)
    # whose values are all wrong for anaconda-auth
    (home / ".anaconda" / "config.toml").write_text(
        '[plugin.auth]\nssl_verify = [1, 2]\nuse_device_flow = "perhaps"\ndomain = 5\n'
        "[sites.broken]\ndomain = []\n"
    )
    (home / ".env").write_text("ANACONDA_AUTH_DOMAIN\n=== not a dotenv line\n")
    site = tmp_path / "site"
    write_dist(
        site,
        "broken-auth-plugin",
        "1.0",
        {"broken": "broken_auth_plugin"},
        {"broken_auth_plugin": "raise ImportError('needs a module that is not installed')\n"},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANACONDA_")}
    env.update(
        HOME=str(home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        ANACONDA_AUTH_SSL_VERIFY="maybe",
        ANACONDA_AUTH_USE_DEVICE_FLOW="perhaps",
        PYTHON_KEYRING_BACKEND="no_such_module.NoSuchKeyring",
        ANACONDA_CLI_DISABLE_TELEMETRY="1",
        OTEL_SDK_DISABLED="true",
        COLUMNS="200",
    )
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> Any:
    return subprocess.run(
        cmd,
        env=env,
        cwd=cwd or env["HOME"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=90,
    )


def test_downstream_imports_never_raise(broken_env: dict[str, str]) -> None:
    proc = run([sys.executable, "-c", DOWNSTREAM_IMPORTS], broken_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported\n"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], ["auth", "--help"], ["cloud", "--help"], ["sites", "--help"], ["auth"]],
    ids=" ".join,
)
def test_anaconda_starts_in_a_broken_environment(
    args: list[str], broken_env: dict[str, str]
) -> None:
    proc = run([ANACONDA, *args], broken_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Usage:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_commands_report_the_broken_config_without_a_traceback(broken_env: dict[str, str]) -> None:
    proc = run([ANACONDA, "auth", "api-key"], broken_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "ConfigError: ~/.env line 1" in proc.stderr  # the first problem found
    assert "'broken'" in proc.stderr  # the plugin warning
    assert "Traceback" not in proc.stderr

    # `anaconda login` (anaconda-cli-base's, which lists the configured sites) reaches ours
    (Path(broken_env["HOME"]) / ".env").unlink()
    proc = run([ANACONDA, "login"], broken_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ConfigError: Invalid configuration:" in proc.stderr
    assert "~/.anaconda/config.toml [plugin.auth] domain" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.fixture
def broken_plugin_env(tmp_path: Path, cli_env_with_key: dict[str, str]) -> dict[str, str]:
    site = tmp_path / "site"
    write_dist(
        site,
        "broken-auth-plugin",
        "1.0",
        {"broken": "broken_auth_plugin"},
        {"broken_auth_plugin": "import module_that_is_not_installed_anywhere\n"},
    )
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**cli_env_with_key, "PYTHONPATH": pythonpath}


@pytest.fixture
def cli_env_with_key(anaconda_logged_in: Any, anaconda_auth_home: Path) -> dict[str, str]:
    """The environment of a logged-in user (a key stored by the file backend)."""
    env = dict(os.environ)
    env.update(COLUMNS="200", ANACONDA_CLI_DISABLE_TELEMETRY="1", OTEL_SDK_DISABLED="true")
    env.pop("NO_COLOR", None)
    return env


def test_a_broken_auth_plugin_is_a_warning(
    broken_plugin_env: dict[str, str], anaconda_logged_in: Any
) -> None:
    who = run([ANACONDA, "auth", "whoami"], broken_plugin_env)
    assert who.returncode == 0, who.stdout + who.stderr
    assert anaconda_logged_in.email in who.stdout
    assert "Traceback" not in who.stdout + who.stderr
    # the warning names the plugin, its distribution and the error, on stderr
    assert "'broken'" in who.stderr and "broken-auth-plugin" in who.stderr, who.stderr
    assert "module_that_is_not_installed_anywhere" in who.stderr

    key = run([ANACONDA, "auth", "api-key"], broken_plugin_env)
    assert key.returncode == 0, key.stderr
    assert key.stdout == anaconda_logged_in.api_key + "\n"  # the warning stays on stderr


def test_the_start_up_guard_covers_only_our_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    import anaconda_cli_base.plugins as cli_base_plugins
    from anaconda_auth.plugins.cli import dispatch

    def load_auth_handler(
        app: Any, name: str, handlers: dict[str, Any], selectors: list[Any]
    ) -> None:
        handlers[name] = app
        raise ValueError(f"cannot read the sites of {name}")

    monkeypatch.setattr(cli_base_plugins, "_load_auth_handler", load_auth_handler)
    dispatch.guard_cli_base_startup()
    dispatch.guard_cli_base_startup()  # once only
    guarded = cli_base_plugins._load_auth_handler
    assert guarded.__wrapped__ is load_auth_handler

    handlers: dict[str, Any] = {}
    selectors: list[tuple[str, str]] = []
    assert guarded("our-app", "auth", handlers, selectors) is None
    assert handlers == {"auth": "our-app", "anaconda.com": "our-app"}
    assert selectors == [("anaconda.com", "anaconda.com")]

    with pytest.raises(ValueError, match="cannot read the sites of org"):
        guarded("their-app", "org", handlers, selectors)
