"""``anaconda auth switch [--at SITE] [ACCOUNT]``: make another stored account active.

With two accounts stored for the site's domain it toggles; with more, it asks on a terminal
and, off a terminal, fails listing them. The swap runs under the per-user token-update lock
(docs/dev/decisions/0049).
"""

from __future__ import annotations

from typing import Annotated

import typer
from anaconda_auth.plugins.cli._app import AtOption, app, routed_errors, use_site
from anaconda_auth.plugins.cli._state import err_console, is_interactive

SWITCH_HELP = (
    "Make another account active for the site's domain.\n\n"
    "Each login as a different user keeps the accounts stored before. With two accounts this "
    "toggles; with more, name one (see `anaconda auth status`), or pick one on a terminal."
)


def _fail(message: str) -> typer.Exit:
    console = err_console()
    console.print("[bold red]Error:[/bold red] ", end="")
    console.print(message, markup=False)
    return typer.Exit(1)


@app.command("switch", help=SWITCH_HELP)
@routed_errors
def switch(
    account: Annotated[
        str | None, typer.Argument(help="The account to make active.", show_default=False)
    ] = None,
    at: AtOption = None,
) -> None:
    """``anaconda auth switch``."""
    from anaconda_auth.actions import load_site_config
    from anaconda_auth.storage import accounts
    from anaconda_auth.storage.update_lock import token_update_lock

    site = use_site(at)
    config = load_site_config(site)
    domain = config.domain
    current = accounts.active(domain, config)
    others = [n for n in accounts.accounts(domain, config) if n != current]
    if account is None:
        if not others:
            raise _fail(f"Only one account is stored for {domain}; nothing to switch to.")
        if len(others) == 1:
            account = others[0]
        elif is_interactive():
            account = _pick(domain, current, others)  # (not under the lock: a person answers)
        else:
            raise _fail(
                f"Several accounts are stored for {domain}: {', '.join(others)} (active: "
                f"{current}). Name one: `anaconda auth switch ACCOUNT`."
            )
    with token_update_lock():  # the swap itself, against concurrent logins and switches
        if accounts.active(domain, config) == account:
            err_console().print(f"{account} is already active for {domain}.", markup=False)
            return
        try:
            accounts.switch(domain, account, config)
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from None
    console = err_console()
    console.print("[green]✔[/green] ", end="")
    console.print(f"Switched the active account for {domain} to {account}.", markup=False)


def _pick(domain: str, current: str | None, others: list[str]) -> str:
    console = err_console()
    console.print(f"Accounts stored for {domain} (active: {current}):", markup=False)
    for number, name in enumerate(others, 1):
        console.print(f"  {number}. {name}", markup=False)
    while True:
        answer = str(typer.prompt(f"Switch to (1-{len(others)})", err=True)).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(others):
            return others[int(answer) - 1]
        if answer in others:
            return answer
        console.print(f"Answer a number from 1 to {len(others)}.", markup=False)
