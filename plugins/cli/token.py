"""``anaconda token``: repository tokens for conda (0.15's commands, same options, prompts,
messages and exit codes; errors on stderr).

Cheap to import (anaconda-cli-base imports every command group at each start): pydantic, the
client and conda load when a command runs. The repository is ``CONDA_TOKEN_REPO_URL`` or
``https://repo.anaconda.cloud/repo/``.

Differences from 0.15, on purpose: a refused token says why (0.15 printed only "Aborted."); a
token just issued by the API is stored even when the check against the channel fails (the
old one is already revoked: losing the new one would leave none); repo tokens change under a
lock, so concurrent commands keep each other's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from anaconda_auth.repo import RepoAPIClient
    from anaconda_auth.token import RepoToken, TokenInfo

__all__ = ["app"]

DEFAULT_REPO_URL = "https://repo.anaconda.cloud/repo/"

app = typer.Typer(name="token", add_completion=False)


def _out() -> Any:
    from anaconda_cli_base import console

    return console


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message)


def _abort(message: str | None = None) -> NoReturn:
    if message:
        _err(message)
    raise typer.Abort()


def _client() -> RepoAPIClient:
    from anaconda_auth.repo import RepoAPIClient

    return RepoAPIClient()


def _repo_url() -> str:
    import os

    repo_config = _repo_config()
    if repo_config is None:
        url = os.getenv("CONDA_TOKEN_REPO_URL") or DEFAULT_REPO_URL
        return url if url.endswith("/") else url + "/"
    return str(repo_config.repo_url())


def _print_repo_token_table(tokens: list[RepoToken], legacy_tokens: dict[str, str]) -> None:
    from rich.table import Table

    table = Table(title="Anaconda Repository Tokens", title_style="green")
    table.add_column("Organization")
    table.add_column("Channel URL")
    table.add_column("Token")
    base = _repo_url()
    for repo_token in tokens:
        table.add_row(repo_token.org_name, f"{base}{repo_token.org_name}/*", repo_token.token)
    for url, token in legacy_tokens.items():
        table.add_row(None, url, token)
    _out().print(table)


def _select_org_name(client: RepoAPIClient) -> str:
    from anaconda_cli_base.console import select_from_list

    organizations = client.get_business_organizations_for_user()
    if not organizations:
        _out().print("No organizations found.")
        raise typer.Abort()
    if len(organizations) == 1:
        org_name = organizations[0].name
        _out().print(f"Only one organization found, automatically selecting: {org_name}")
        return org_name
    name_map = {f"{org.title} ([cyan]{org.name}[/cyan])": org.name for org in organizations}
    return name_map[select_from_list("Please select an organization:", choices=list(name_map))]


def _update_repo_tokens(change: Callable[[TokenInfo], None]) -> None:
    """Load, ``change`` and save the site's token under a per-user lock, so that concurrent
    ``anaconda token`` commands never drop each other's repo tokens (each write is atomic in
    the storage layer; the read-modify-write needs this lock on top)."""
    from anaconda_auth.storage.update_lock import token_update_lock
    from anaconda_auth.token import TokenInfo

    with token_update_lock():
        token_info = TokenInfo.load(create=True)
        change(token_info)
        token_info.save()


def _legacy_tokens() -> dict[str, str]:
    repo_config = _repo_config()
    return {} if repo_config is None else dict(repo_config.token_list())


def _validate(token: str) -> None:
    """Check ``token`` against the repository; with conda, TLS as the condarc says."""
    repo_config = _repo_config()
    if repo_config is None:
        import requests

        from anaconda_auth._conda.validation import check_token
        from anaconda_auth.config import AnacondaAuthConfig
        from anaconda_auth.http.tls import configure_session

        session = requests.Session()
        configure_session(session, AnacondaAuthConfig())
        check_token(session, _repo_url(), token)
        return
    repo_config.validate_token(token, no_ssl_verify=False)


@app.callback(invoke_without_command=True, no_args_is_help=True)
def main() -> None:
    """Manage your Anaconda repo tokens."""


@app.command(name="list")
def list_tokens() -> None:
    """List all installed repository tokens."""
    from anaconda_auth.token import TokenInfo

    legacy = _legacy_tokens()
    repo_tokens = TokenInfo.load(create=True).repo_tokens
    if not (legacy or repo_tokens):
        _abort("No repo tokens are installed. Run [cyan]anaconda token install[/cyan].")
    _print_repo_token_table(tokens=repo_tokens, legacy_tokens=legacy)


@app.command(name="install")
def install_token(
    token: str = typer.Argument(
        "", help="Optionally, provide the token received via email or web interface."
    ),
    org_name: str = typer.Option("", "-o", "--org", help="Organization name (slug)."),
    set_default_channels: bool = typer.Option(
        True, help="Automatically configure default channels."
    ),
    yes: bool = typer.Option(False, "-y", "--yes", help="Accept all prompts"),
) -> None:
    """Create and install a new repository token."""
    from anaconda_auth._conda.validation import CondaTokenError
    from anaconda_auth.token import TokenInfo

    TokenInfo.load(create=True)  # a store that cannot be read fails here, before any issuing
    issued = False
    if not token:
        client = _client()
        if not org_name:
            org_name = _select_org_name(client)
        token = client.issue_new_token(org_name=org_name, yes=yes)
        issued = True
    elif not org_name:
        org_name = _select_org_name(_client())
    try:
        _validate(token)
    except CondaTokenError as exc:
        if not issued:
            _abort(str(exc))
        _update_repo_tokens(lambda info: info.set_repo_token(org_name, token))
        _abort(f"{exc}\nThe new token was stored anyway (issuing it revoked the previous one).")
    _update_repo_tokens(lambda info: info.set_repo_token(org_name, token))
    msg = "Your token has been installed and validated"
    if set_default_channels:
        _configure_conda(force=yes)
        msg += ", and conda has been configured"
    _out().print(f"Success! {msg}.")


def _configure_conda(force: bool) -> None:
    repo_config = _repo_config()
    if repo_config is None:
        _err("conda is not installed here: the token is stored, conda was not configured.")
        return
    from anaconda_auth._conda.condarc import CondaRCError

    try:
        repo_config.configure_default_channels(force=force)
        repo_config.configure_plugin()
    except CondaRCError as exc:
        _abort(str(exc))


@app.command(name="config")
def configure_conda(
    force: bool = typer.Option(
        False, help="Force configuration of default channels without prompt."
    ),
) -> None:
    """Configure conda's default channels to access Anaconda's premium repository."""
    _configure_conda(force=force)


@app.command(name="uninstall")
def uninstall_token(
    org_name: str = typer.Option("", "-o", "--org"),
    all: bool = typer.Option(False, "-a", "--all"),
) -> None:
    """Uninstall a repository token for a specific organization."""
    if all:
        _update_repo_tokens(lambda info: info.delete_all_repo_token())
        _out().print("Successfully deleted [cyan]all[/cyan] repo tokens.")
        return
    if not org_name:
        _abort("Must explicitly provide an [cyan]--org[/cyan] option")
    _update_repo_tokens(lambda info: info.delete_repo_token(org_name=org_name))
    _out().print(f"Successfully deleted token for organization: [cyan]{org_name}[/cyan]")


_FILE_HELP = "Write to the system .condarc file at '~/.condarc'."
_ENV_HELP = (
    "Write to the active conda environment .condarc file. If no environment is active, "
    "write to the user config file (~/.condarc)."
)


@app.command(name="set")
def set_token(
    token: str = typer.Argument(
        ..., help="Optionally, provide the token received via email or web interface."
    ),
    org_name: str = typer.Option("", "-o", "--org", help="Organization name (slug)."),
    set_default_channels: bool = typer.Option(
        True, help="Automatically configure default channels."
    ),
    file: str = typer.Option("", "-f", "--file", help=_FILE_HELP),
    env: bool = typer.Option(False, "-e", "--env", help=_ENV_HELP),
    system: bool = typer.Option(True, "-s", "--system", help="Organization name (slug)."),
) -> None:
    """Install a new repository token."""
    if org_name:
        install_token(
            token=token, org_name=org_name, set_default_channels=set_default_channels, yes=False
        )
    repo_config = _require_conda()
    from anaconda_auth._conda.condarc import CondaRCError

    try:
        repo_config.token_set(token=token, file=file or None, env=env, system=system)
    except CondaRCError as exc:
        _abort(str(exc))


@app.command(name="remove")
def remove_token(
    file: str = typer.Option("", "-f", "--file", help=_FILE_HELP),
    env: bool = typer.Option(False, "-e", "--env", help=_ENV_HELP),
    system: bool = typer.Option(True, "-s", "--system", help="Organization name (slug)."),
) -> None:
    """Remove binstar token and data from Keyring."""
    _require_conda().token_remove(file=file or None, env=env, system=system)


def _require_conda() -> Any:
    repo_config = _repo_config()
    if repo_config is None:
        _abort("This command configures conda, which is not installed in this environment.")
    return repo_config


def _repo_config() -> Any:
    """:mod:`anaconda_auth._conda.repo_config`, or None where conda is not installed."""
    try:
        from anaconda_auth._conda import repo_config
    except ImportError:
        return None
    return repo_config
