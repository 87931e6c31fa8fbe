"""``anaconda auth login --with-token``: store an API key read from standard input.

The key is never taken from the command line (where ``ps`` and shell history see it): it is
read from stdin, with a hidden prompt on a terminal. It is checked before anything is written
(its ``exp`` claim when it is a JWT, and ``GET /api/account`` unless ``--offline``), then stored
as a browser login stores one: in the preferred storage, under the site's domain, with the
account name from the server's reply and the repo tokens already stored for the site kept.
On any failure nothing is stored or replaced and the exit code is 1.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo

PROMPT = "Paste your API key (input is hidden): "


def _fail(message: str) -> typer.Exit:
    from anaconda_auth.plugins.cli._state import err_console

    console = err_console()
    console.print("[bold red]Error:[/bold red] ", end="")
    console.print(f"{message} Nothing was stored.", markup=False)
    return typer.Exit(1)


def read_key() -> str:
    """The API key from stdin: a hidden prompt on a terminal, else everything piped in."""
    try:
        if sys.stdin.isatty():
            import getpass

            text = getpass.getpass(PROMPT, stream=sys.stderr)
        else:
            text = sys.stdin.read()
    except (EOFError, KeyboardInterrupt):
        raise _fail("No API key was given.") from None
    key = text.strip()
    if not key:
        raise _fail(
            "No API key on standard input (pipe one in: `... | anaconda auth login --with-token`)."
        )
    if any(c.isspace() for c in key):
        raise _fail("Standard input holds more than one word; give exactly one API key.")
    return key


def login_with_token(site: str | None, offline: bool, ssl_verify: bool | None) -> None:
    from anaconda_auth.plugins.cli._state import err_console
    from anaconda_auth.plugins.cli.credentials import (
        API_KEY_ENV,
        account_name,
        check_key,
        date_text,
        key_expiry,
        now,
        relative,
        warn_if_expiring,
    )

    from anaconda_auth import actions

    config = actions.load_site_config(site, ssl_verify=ssl_verify)
    key = read_key()
    expires = key_expiry(key)
    if expires is not None and expires <= now():
        raise _fail(f"The API key expired on {date_text(expires)} ({relative(expires)}).")

    account: str | None = None
    if offline:
        account = _email_claim(key)
    else:
        result = check_key(config, key)
        if result.valid is False:
            raise _fail(f"{config.domain}: {result.error}.")
        if result.valid is None:
            raise _fail(
                f"The API key could not be checked: {result.error}. To store it without "
                "checking, add --offline."
            )
        account = account_name(result.account)

    token = _store(config, key, account)
    console = err_console()
    console.print("[green]✔[/green] ", end="")
    who = f" as {account}" if account else ""
    checked = " (not checked: --offline)" if offline else ""
    console.print(
        f"Stored the API key for {config.domain}{who} in {token.source}{checked}.", markup=False
    )
    warn_if_expiring(config, token, _login_command(site))
    from anaconda_auth.plugins.cli.account import note_other_accounts

    note_other_accounts(config, token.username)
    if token.source == "environment" or _configured(config):
        console.print(
            f"Note: {API_KEY_ENV} (or api_key in the config) is set and is used instead of "
            "the key just stored; unset it to use the new key.",
            markup=False,
            style="yellow",
        )


def _configured(config: AnacondaAuthSite) -> bool:
    import os

    from anaconda_auth.plugins.cli.credentials import API_KEY_ENV

    return bool(os.environ.get(API_KEY_ENV) or config.api_key)


def _login_command(site: str | None) -> str:
    return f"anaconda auth login --at {site} --force" if site else "anaconda auth login --force"


def _email_claim(key: str) -> str | None:
    from anaconda_auth.token_claims import jwt_claims

    try:
        email = jwt_claims(key).get("email")
    except ValueError:
        return None
    return email if isinstance(email, str) and email else None


def _store(config: AnacondaAuthSite, key: str, account: str | None) -> TokenInfo:
    """Save as a browser login does: the entry of the domain, its repo tokens kept."""
    from anaconda_auth.actions import _entry_for_account
    from anaconda_auth.storage.update_lock import token_update_lock

    with token_update_lock():
        info = _entry_for_account(config, account)
        info.domain = config.domain
        info.api_key = key
        info.username = account
        info.save(config=config)
    return info
