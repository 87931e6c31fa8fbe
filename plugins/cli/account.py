"""The account commands of ``anaconda auth``: ``login``, ``logout``, ``whoami``, ``api-key``.

Results (``whoami``, ``api-key``) go to stdout; progress, prompts and notes go to stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from anaconda_auth.plugins.cli._app import AtOption, JsonOption, app, routed_errors, use_site
from anaconda_auth.plugins.cli._state import (
    err_console,
    is_interactive,
    login_command,
    out_console,
)

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo

AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="The account to log out (default: the active one); see `anaconda auth status`.",
    ),
]

API_KEY_ENV = "ANACONDA_AUTH_API_KEY"

LOGIN_HELP = (
    "Log in to Anaconda and store an API key.\n\n"
    "Opens your browser (or, with --device, shows a code to enter in a browser on any device), "
    "then keeps a long-lived API key in the configured token storage. Does nothing when a "
    "valid API key is already stored, unless --force.\n\n"
    "--with-token: read an existing API key from standard input instead (a hidden prompt on a "
    "terminal), check it and store it: `anaconda auth login --with-token < key.txt`."
)
LOGOUT_HELP = (
    "Log out: remove the stored API key for the site.\n\n"
    "With several accounts stored for the site's domain, removes the active one (or the one "
    "given with --account); the most recently active other account then becomes active, and "
    "the command says which. Succeeds (exit code 0) when no API key was stored."
)
WHOAMI_HELP = (
    "Show who you are logged in as.\n\n"
    "Asks the server (GET /api/account) for the user, and shows the domain, where the API key "
    "comes from and when it expires."
)
API_KEY_HELP = (
    "Print the stored API key, and nothing else, on stdout (for scripts).\n\n"
    'Example: curl -H "Authorization: Bearer $(anaconda auth api-key)" URL\n\n'
    "Exits with 1, after offering to log in on a terminal, when no valid API key is stored."
)


def _stored_token(site: str | None) -> TokenInfo | None:
    from anaconda_auth.actions import current_token
    from anaconda_auth.exceptions import TokenNotFoundError

    try:
        return current_token(site)
    except TokenNotFoundError:
        return None


def _describe_source(source: str | None, *, detail: bool = False) -> str:
    """Where an API key came from: the storage backend's name, or the variable / setting.

    ``detail`` adds the backend's description (``whoami``).
    """
    if source is None:
        return "unknown"
    if source == "environment":
        if os.environ.get(API_KEY_ENV):
            return f"the {API_KEY_ENV} environment variable"
        return "the api_key setting"
    if not detail:
        return source
    try:
        from anaconda_auth.storage.access import all_backends

        backend = all_backends().get(source)
    except Exception:  # noqa: BLE001 - describing is best effort
        backend = None
    if backend is not None and backend.description:
        return f"{source} \N{EM DASH} {backend.description}"
    return source


def _expiry(token: TokenInfo) -> tuple[str | None, str]:
    """The expiry as ISO 8601 (``None`` if unknown) and as a sentence fragment."""
    try:
        expires = token.expires_at
    except ValueError:
        return None, "unknown (the API key is not a JWT)"
    if expires is None:
        return None, "never (the API key has no expiry)"
    from anaconda_auth.plugins.cli.credentials import humanize

    delta = expires - dt.datetime.now(tz=dt.timezone.utc)
    when = expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    if delta.total_seconds() <= 0:
        return expires.isoformat(), f"{when} (expired {humanize(delta)} ago)"
    return expires.isoformat(), f"{when} (in {humanize(delta)})"


def _user_fields(account: dict[str, Any]) -> dict[str, str]:
    """username, name and email from an ``/api/account`` body (user fields at top or nested)."""
    user = account.get("user")
    data: dict[str, Any] = user if isinstance(user, dict) else account
    name = data.get("name")
    if not name:
        name = " ".join(str(p) for p in (data.get("first_name"), data.get("last_name")) if p)
    fields = {
        "username": data.get("username") or data.get("preferred_username"),
        "name": name,
        "email": data.get("email"),
    }
    return {k: str(v) for k, v in fields.items() if v}


def _user_line(fields: dict[str, str]) -> str:
    main_ = fields.get("username") or fields.get("email") or fields.get("name") or "(unknown)"
    extra = " ".join(
        part
        for part in (
            fields.get("name") if fields.get("name") != main_ else None,
            f"<{fields['email']}>" if fields.get("email") and fields["email"] != main_ else None,
        )
        if part
    )
    return f"{main_} ({extra})" if extra else main_


def _done(message: str) -> None:
    """A green check mark and ``message`` (plain text) on stderr."""
    console = err_console()
    console.print("[green]✔[/green] ", end="")
    console.print(message, markup=False)


def _print_pairs(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows) + 1
    console = out_console()
    for key, value in rows:
        console.print(f"[bold]{key + ':':<{width}}[/bold] ", end="")
        console.print(value, markup=False)


@app.command("login", help=LOGIN_HELP)
@routed_errors
def login(
    force: Annotated[
        bool,
        typer.Option(
            "--force/--no-force", "-f", help="Log in again even if a valid API key is stored."
        ),
    ] = False,
    at: AtOption = None,
    ssl_verify: Annotated[
        bool | None,
        typer.Option(
            "--ssl-verify/--no-ssl-verify",
            help="Verify TLS certificates while logging in. Default: the ssl_verify setting.",
        ),
    ] = None,
    device: Annotated[
        bool | None,
        typer.Option(
            "--device/--browser",
            help="--device: show a code to enter in a browser on any device (for SSH sessions "
            "and containers). --browser: open a browser here. Default: the use_device_flow "
            "setting, or the device flow when no browser can be opened.",
        ),
    ] = None,
    with_token: Annotated[
        bool,
        typer.Option(
            "--with-token",
            help="Read an API key from standard input (never from the command line), check "
            "it, and store it as a login would.",
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="With --with-token: do not ask the server whether it accepts the key.",
        ),
    ] = False,
) -> None:
    """``anaconda auth login``."""
    from anaconda_auth.plugins.cli.ui import RichLoginUI

    from anaconda_auth import actions

    site = use_site(at)
    console = err_console()
    if offline and not with_token:
        raise typer.BadParameter("--offline needs --with-token", param_hint="--offline")
    if with_token:
        if device is not None:
            raise typer.BadParameter(
                "--with-token reads a key; it runs no browser or device login",
                param_hint="--device/--browser",
            )
        from anaconda_auth.plugins.cli.with_token import login_with_token

        login_with_token(site, offline, ssl_verify)
        return
    domain = actions.load_site_config(site).domain

    if not force:
        token = _stored_token(site)
        if token is not None and token.source == "environment":
            _configured_key(site, token)
            return
        if token is not None and not token.expired:
            source = _describe_source(token.source)
            console.print(
                f"You are already logged in to {domain} (API key from {source}).", markup=False
            )
            from anaconda_auth.plugins.cli.credentials import warn_if_expiring

            warn_if_expiring(actions.load_site_config(site), token, f"{login_command()} --force")
            from rich.prompt import Confirm

            if is_interactive() and Confirm.ask("Log in again?", default=False, console=console):
                force = True
            else:
                cmd = f"{login_command()} --force"
                console.print(f"To log in again, run `{cmd}`.", markup=False)
                return
        elif token is not None:
            console.print(f"Your API key for {domain} has expired: logging in again.", markup=False)
            force = True

    try:
        actions.login(
            site, ssl_verify=ssl_verify, force=force, device=device, ui=RichLoginUI(console)
        )
    except KeyboardInterrupt:
        console.print("\nLogin cancelled; nothing was stored.")
        raise typer.Exit(130) from None

    token = _stored_token(site)
    who = f" as {token.username}" if token is not None and token.username else ""
    _done(f"Logged in to {domain}{who}.")
    if token is not None:
        note_other_accounts(actions.load_site_config(site), token.username)
    if token is not None:
        _, expires = _expiry(token)
        console.print(
            f"The API key is stored in {_describe_source(token.source)}; it expires {expires}.",
            markup=False,
        )
        if token.source == "environment":
            console.print(
                f"Note: {API_KEY_ENV} (or api_key in the config) is set and is used instead of "
                "the key just stored; unset it to use the new key.",
                markup=False,
                style="yellow",
            )
    _post_login_setup(ssl_verify)


def _post_login_setup(ssl_verify: bool | None) -> None:
    """0.15's conda set-up after a login (organizations with the *environments* feature); any
    failure is a warning, the login itself succeeded. A patched
    ``anaconda_auth.cli.fetch_org_features`` (0.15's patch point) is used when that module is
    loaded."""
    from anaconda_auth._conda.post_login import run_post_login_setup

    cli = sys.modules.get("anaconda_auth.cli")
    run_post_login_setup(ssl_verify=ssl_verify, fetch=getattr(cli, "fetch_org_features", None))


def _configured_key(site: str | None, token: TokenInfo) -> None:
    """``login`` while an API key is configured (``ANACONDA_AUTH_API_KEY``, ``api_key``):
    logging in cannot help, as that key wins. Say whether it works; exit 1 when it does not."""
    from anaconda_auth.plugins.cli.credentials import (
        check_key,
        date_text,
        how_to_remove_configured_key,
        key_expiry,
        warn_if_expiring,
    )

    from anaconda_auth.actions import load_site_config

    console = err_console()
    config = load_site_config(site)
    source = _describe_source(token.source)
    assert token.api_key is not None
    problem: str | None = None
    if token.expired:
        expires = key_expiry(token.api_key)
        problem = f"it expired on {date_text(expires)}" if expires else "it has expired"
    else:
        result = check_key(config, token.api_key)
        if result.valid is False:
            problem = str(result.error)
        elif result.valid is None:
            console.print(
                f"An API key is configured through {source}, but it could not be checked: "
                f"{result.error}.",
                markup=False,
                style="yellow",
            )
    if problem is not None:
        from anaconda_auth.plugins.cli.error_handlers import print_named_headline

        print_named_headline(
            "Error", f"The API key from {source} cannot be used for {config.domain}: {problem}."
        )
        console.print(
            f"It is used instead of any stored key, so logging in cannot help: "
            f"{how_to_remove_configured_key()}, then run `{login_command()}`.",
            markup=False,
        )
        raise typer.Exit(1)
    console.print(
        f"You are already logged in to {config.domain} (API key from {source}).", markup=False
    )
    console.print(
        "That key is configured, not stored: there is nothing to log in to.", markup=False
    )
    warn_if_expiring(config, token, f"{login_command()} --force")


@app.command("logout", help=LOGOUT_HELP)
@routed_errors
def logout(at: AtOption = None, account: AccountOption = None) -> None:
    """``anaconda auth logout``: remove the stored key from every writable storage."""
    from anaconda_auth import actions
    from anaconda_auth.storage import accounts

    site = use_site(at)
    console = err_console()
    config = actions.load_site_config(site)
    domain = config.domain
    explicit = account is not None
    account = account if explicit else config.account  # a site may pin one
    if account is not None or accounts.inactive(domain, config):
        _logout_account(config, account, explicit)
        return
    before = _stored_token(site)
    actions.logout(site)
    after = _stored_token(site)
    if before is None or before.source == "environment":
        console.print(f"No API key was stored for {domain}.", markup=False)
    else:
        _done(f"Logged out of {domain}.")
    if after is not None and after.source == "environment":
        console.print(
            f"Note: an API key is still configured through {_describe_source(after.source)}; "
            "unset it to stop using it.",
            markup=False,
            style="yellow",
        )


def note_other_accounts(config: AnacondaAuthSite, current: str | None) -> None:
    """After a login: name the domain's other stored accounts, and how to switch to them."""
    from anaconda_auth.exceptions import StorageError
    from anaconda_auth.storage import accounts

    try:
        others = [n for n in accounts.accounts(config.domain, config) if n != current]
    except StorageError:  # the login itself is stored; this note is only a courtesy
        return
    if others:
        err_console().print(
            f"Also stored for {config.domain}: {', '.join(others)} "
            "(`anaconda auth switch` makes another account active).",
            markup=False,
        )


def _logout_account(config: AnacondaAuthSite, account: str | None, explicit: bool) -> None:
    """Remove one of several stored accounts, and say which one is active afterwards."""
    from anaconda_auth.storage import accounts
    from anaconda_auth.storage.update_lock import token_update_lock

    domain = config.domain
    console = err_console()
    with token_update_lock():
        try:
            removed, was_active = accounts.remove(domain, account, config)
        except accounts.AccountError as exc:
            if explicit:
                console.print("[bold red]Error:[/bold red] ", end="")
                console.print(str(exc), markup=False)
                raise typer.Exit(1) from None
            removed, was_active = None, False  # the site's pinned account is not stored
        now_active = accounts.active(domain, config)
    if removed is None:
        console.print(f"No API key was stored for {domain}.", markup=False)
    else:
        _done(f"Logged out of {domain} as {removed}.")
    if now_active is not None:
        switched = " (switched to it)" if was_active else ""
        console.print(f"Active account for {domain}: {now_active}{switched}.", markup=False)
    else:
        console.print(f"No account is logged in to {domain} now.", markup=False)


@app.command("whoami", help=WHOAMI_HELP)
@routed_errors
def whoami(at: AtOption = None, as_json: JsonOption = False) -> None:
    """``anaconda auth whoami``."""
    from anaconda_auth.plugins.cli.credentials import expires_soon, warn_if_expiring

    from anaconda_auth.actions import current_token, load_site_config
    from anaconda_auth.client import BaseClient

    site = use_site(at)
    token = current_token(site)
    token.get_access_token()  # TokenExpiredError before asking the server
    config = load_site_config(site)
    warn_if_expiring(config, token, f"{login_command()} --force")
    client = BaseClient(site=site) if site is not None else BaseClient()
    account = client.account
    account = account if isinstance(account, dict) else {}
    fields = _user_fields(account)
    expires_iso, expires_text = _expiry(token)
    if as_json:
        data = {
            "domain": token.domain,
            "site": site,
            "user": fields,
            "source": token.source,
            "source_description": _describe_source(token.source, detail=True),
            "expires_at": expires_iso,
            "account": account,
        }
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        return
    source = _describe_source(token.source, detail=True)
    rows = [("User", _user_line(fields)), ("Domain", token.domain)]
    site_name = _site_name(site)
    if site_name and site_name != token.domain:
        rows.append(("Site", site_name))
    rows.append(("API key", source if token.source == "environment" else f"stored in {source}"))
    try:
        soon = expires_soon(token.expires_at, config)
    except ValueError:
        soon = False
    if soon:
        expires_text += f" \N{EM DASH} expires soon: renew with `{login_command()} --force`"
    rows.append(("Expires", expires_text))
    _print_pairs(rows)


def _site_name(site: str | None) -> str | None:
    """The name of the configured site in use, if any."""
    from anaconda_auth.actions import load_site_config

    try:
        return load_site_config(site).site
    except Exception:  # noqa: BLE001 - only for display
        return None


@app.command("api-key", help=API_KEY_HELP)
@routed_errors
def api_key(at: AtOption = None) -> None:
    """``anaconda auth api-key``: only the key on stdout."""
    from anaconda_auth.actions import current_token

    site = use_site(at)
    token = current_token(site)
    key = token.get_access_token()
    from anaconda_auth.plugins.cli.credentials import warn_if_expiring

    from anaconda_auth.actions import load_site_config

    warn_if_expiring(load_site_config(site), token, f"{login_command()} --force")
    sys.stdout.write(key + "\n")
    sys.stdout.flush()
