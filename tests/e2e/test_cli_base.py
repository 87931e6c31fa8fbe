"""anaconda-cli-base integration: ``anaconda auth`` mounted through the ``anaconda_cli.subcommand``
entry point, the top-level ``anaconda login --at <site>``, and the error handling another
plugin's command gets when it calls ``raise_for_status()`` on a ``BaseClient`` response."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.cli import ANACONDA
from support.plugin_dists import write_dist

pytestmark = pytest.mark.e2e

THIRD_PARTY = '''
import typer

app = typer.Typer(name="thirdparty", help="A third-party plugin.")


@app.callback()
def main() -> None:
    """A third-party plugin."""


@app.command("call")
def call(path: str) -> None:
    """GET a path of the configured domain with the anaconda-auth client."""
    from anaconda_auth.client import BaseClient

    response = BaseClient().get(path)
    response.raise_for_status()
    print("ok", response.status_code)
'''


@pytest.fixture
def third_party(tmp_path: Path) -> dict[str, str]:
    """A plugin installed as a real distribution (a .dist-info with an
    ``anaconda_cli.subcommand`` entry point) on PYTHONPATH."""
    site = tmp_path / "site"
    entry_points = {"thirdparty": "thirdparty_cli:app"}
    modules = {"thirdparty_cli": THIRD_PARTY}
    write_dist(site, "thirdparty-cli", "1.0", entry_points, modules, "anaconda_cli.subcommand")
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": pythonpath}


@pytest.fixture
def sites(anaconda_auth_home: Path, anaconda_idp: Any, cli_env: dict[str, str]) -> str:
    """Two sites in ~/.anaconda/config.toml; "local" is the provider. The ANACONDA_AUTH_*
    variables that point at the provider are dropped, so only --at can select it."""
    config = Path(cli_env["ANACONDA_CONFIG_TOML"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        textwrap.dedent(
            f"""
            default_site = "elsewhere"

            [sites.elsewhere]
            domain = "elsewhere.invalid"

            [sites.local]
            domain = "{anaconda_idp.domain}"
            ssl_verify = "{anaconda_idp.ca_path}"
            redirect_uri = "http://127.0.0.1:0/auth/oidc"
            """
        )
    )
    for name in ("ANACONDA_AUTH_DOMAIN", "ANACONDA_AUTH_SSL_VERIFY", "ANACONDA_AUTH_REDIRECT_URI"):
        cli_env.pop(name, None)
    return "local"


def test_help_shows_the_plugin(run_cli: Any) -> None:
    top = run_cli(command=[ANACONDA, "--help"])
    assert top.returncode == 0, top
    assert "auth" in top.stdout and "login" in top.stdout

    auth = run_cli("--help")
    assert auth.returncode == 0, auth
    for command in ("login", "logout", "whoami", "api-key", "plugins", "config"):
        assert command in auth.stdout
    assert "Exit codes" in auth.stdout

    version = run_cli("-V")
    assert version.returncode == 0
    assert version.stdout.startswith("anaconda-auth, version ")
    # (`anaconda --version` itself fails in anaconda-cli-base 0.9.1; its `versions` works)
    versions = run_cli(command=[ANACONDA, "versions"])
    assert "anaconda-auth" in versions.stdout


def test_top_level_login_at_site(run_cli: Any, sites: str, anaconda_idp: Any) -> None:
    login = run_cli(command=[ANACONDA, "login", "--at", sites])
    assert login.returncode == 0, login
    assert f"Logged in to {anaconda_idp.domain}" in login.output
    assert anaconda_idp.requests_to("api_keys")

    who = run_cli(command=[ANACONDA, "whoami", "--at", sites])
    assert who.returncode == 0, who
    assert "alice@example.com" in who.stdout
    assert f"Domain:  {anaconda_idp.domain}" in who.stdout
    assert f"Site:    {sites}" in who.stdout

    # the subcommand's own --at reaches the same site
    assert run_cli("whoami", "--at", sites).returncode == 0
    # and `anaconda --at` before the plugin name too
    assert run_cli(command=[ANACONDA, "--at", sites, "auth", "api-key"]).returncode == 0

    again = run_cli(command=[ANACONDA, "login", "--at", sites])
    assert again.returncode == 0, again
    assert "already logged in" in again.output

    forced = run_cli(command=[ANACONDA, "login", "--at", sites, "--force"])
    assert forced.returncode == 0, forced
    assert len(anaconda_idp.requests_to("api_keys")) == 2

    out = run_cli(command=[ANACONDA, "logout", "--at", sites])
    assert out.returncode == 0, out
    assert f"Logged out of {anaconda_idp.domain}" in out.output
    gone = run_cli("api-key", "--at", sites)
    assert gone.returncode == 1, gone
    assert f"anaconda auth login --at {sites}" in gone.output


def test_third_party_http_error_gets_our_handler(
    run_cli: Any, third_party: dict[str, str], anaconda_logged_in: Any, anaconda_idp: Any
) -> None:
    result = run_cli(command=[ANACONDA, "thirdparty", "call", "/api/status/422"], env=third_party)
    assert result.returncode == 1, result
    url = f"{anaconda_idp.url}/api/status/422"
    assert "HTTPError: 422 Client Error: UNPROCESSABLE ENTITY for url: " + url in result.stderr
    # the server's message: our handler, not anaconda-cli-base's catch-all (which prints the
    # first line only, on stdout)
    assert "  as asked" in result.stderr
    assert "To see a more detailed error message run the command again as" in result.output
    assert "anaconda --verbose thirdparty call /api/status/422" in result.output
    assert anaconda_logged_in.api_key not in result.output

    ok = run_cli(command=[ANACONDA, "thirdparty", "call", "/api/account"], env=third_party)
    assert ok.returncode == 0, ok
    assert "ok 200" in ok.stdout


def test_third_party_login_required(
    run_cli: Any, run_pty: Any, third_party: dict[str, str], anaconda_auth_home: Path
) -> None:
    cmd = [ANACONDA, "thirdparty", "call", "/api/account"]
    result = run_cli(command=cmd, env=third_party)
    assert result.returncode == 1, result
    # 0.15's line, word for word (packages match on it), first on stderr; stdout stays empty
    first = "AuthenticationMissingError: Login is required to complete this action.\n"
    assert result.stderr.startswith(first), result
    assert result.stdout == "", result
    assert "anaconda auth login" in result.output
    assert "ANACONDA_AUTH_API_KEY" in result.output
    assert "anaconda --verbose thirdparty call /api/account" in result.output

    # on a terminal: log in, and anaconda-cli-base runs the command again
    code, out = run_pty(
        command=cmd,
        env=third_party,
        answers=[("Continue with interactive login? [y/n]", "y\n")],
    )
    assert code == 0, out
    assert "ok 200" in out
    assert out.index("ok 200") > out.index("Running the command again")


def test_third_party_verbose_is_a_traceback(
    run_cli: Any, third_party: dict[str, str], anaconda_logged_in: Any
) -> None:
    cmd = [ANACONDA, "--verbose", "thirdparty", "call", "/api/status/422"]
    result = run_cli(command=cmd, env=third_party)
    assert result.returncode == 1, result
    assert "Traceback" in result.output
    assert "raise_for_status" in result.output
    assert anaconda_logged_in.api_key not in result.output
