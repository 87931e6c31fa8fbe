"""The ``anaconda auth`` commands.

Only :mod:`typer` is imported at module level: anaconda-cli-base imports this module every time
any ``anaconda`` command starts, so rich, requests, pydantic, the config and the login flows
are imported inside the commands that need them.

Output: results (``whoami``, ``api-key``, ``plugins``, ``config``, ``--version``) go to stdout;
progress, prompts, notes and errors go to stderr.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from anaconda_auth.plugins.cli._state import (
    STATE,
    err_console,
    is_interactive,
    login_command,
    out_console,
)

if TYPE_CHECKING:
    from rich.table import Table

    from anaconda_auth.token import TokenInfo

API_KEY_ENV = "ANACONDA_AUTH_API_KEY"

# Help texts: one line per paragraph (typer keeps single newlines when the app is mounted).
HELP = (
    "Log in to Anaconda and manage your API key.\n\n"
    'Exit codes: 0 success; 1 error (including "login required" when nobody can answer the '
    "login prompt); 2 wrong usage; 130 interrupted (Ctrl-C)."
)
LOGIN_HELP = (
    "Log in to Anaconda and store an API key.\n\n"
    "Opens your browser (or, with --device, shows a code to enter in a browser on any device), "
    "then keeps a long-lived API key in the configured token storage. Does nothing when a "
    "valid API key is already stored, unless --force."
)
LOGOUT_HELP = (
    "Log out: remove the stored API key for the site.\n\n"
    "Succeeds (exit code 0) when no API key was stored."
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
PLUGINS_HELP = "List the plugins, the token storage backends and the config sources."
CONFIG_HELP = (
    "Show every configuration setting, its value and where it came from.\n\n"
    "Secrets are masked. Settings come from, highest first: ANACONDA_AUTH_* environment "
    "variables, the secrets directory, .env, the selected [sites.<name>] table and "
    "[plugin.auth] in ~/.anaconda/config.toml; see `anaconda auth plugins`."
)

app = typer.Typer(
    name="auth",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="SITE",
        help="The site to use: a site name from ~/.anaconda/config.toml, or a domain. "
        "Default: the default site.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _command(func: F) -> F:
    """Let anaconda-cli-base route any exception of this command to our handlers.

    Its registry is keyed by exact type; the common types are registered when the module
    loads, and this catches the rest (e.g. a type a third-party handler plugin covers).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            from anaconda_auth.plugins.cli.dispatch import register_type_with_cli_base

            register_type_with_cli_base(type(exc))
            raise

    return wrapper  # type: ignore[return-value]


def _use_site(at: str | None) -> str | None:
    STATE.site = at
    return at


def _enable_debug_logging() -> None:
    import logging

    if getattr(_enable_debug_logging, "done", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("anaconda_auth", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    _enable_debug_logging.done = True  # type: ignore[attr-defined]


def _parent_verbose(ctx: typer.Context) -> bool:
    """``anaconda --verbose ...``: anaconda-cli-base keeps its options in ``ctx.obj.params``."""
    params = getattr(ctx.obj, "params", None)
    return bool(isinstance(params, dict) and params.get("verbose"))


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("-V", "--version", help="Print the version of anaconda-auth and exit."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", help="Print debug messages, and tracebacks of errors, on stderr."
        ),
    ] = False,
) -> None:
    if version:
        from anaconda_auth._version import __version__

        print(f"anaconda-auth, version {__version__}")
        raise typer.Exit()
    if verbose or _parent_verbose(ctx):
        STATE.verbose = True
        _enable_debug_logging()
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit()


# ----------------------------------------------------------------------------- helpers


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


def _humanize(delta: dt.timedelta) -> str:
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size or (unit == "minute" and seconds >= size):
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def _expiry(token: TokenInfo) -> tuple[str | None, str]:
    """The expiry as ISO 8601 (``None`` if unknown) and as a sentence fragment."""
    try:
        expires = token.expires_at
    except ValueError:
        return None, "unknown (the API key is not a JWT)"
    if expires is None:
        return None, "never (the API key has no expiry)"
    delta = expires - dt.datetime.now(tz=dt.timezone.utc)
    when = expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    if delta.total_seconds() <= 0:
        return expires.isoformat(), f"{when} (expired {_humanize(delta)} ago)"
    return expires.isoformat(), f"{when} (in {_humanize(delta)})"


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


# ----------------------------------------------------------------------------- commands


@app.command("login", help=LOGIN_HELP)
@_command
def login(
    force: Annotated[
        bool,
        typer.Option("--force", "-f", help="Log in again even if a valid API key is stored."),
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
) -> None:
    """``anaconda auth login``."""
    from anaconda_auth.plugins.cli.ui import RichLoginUI

    from anaconda_auth import actions

    site = _use_site(at)
    console = err_console()
    domain = actions.load_site_config(site).domain

    if not force:
        token = _stored_token(site)
        if token is not None and not token.expired:
            source = _describe_source(token.source)
            console.print(
                f"You are already logged in to {domain} (API key from {source}).", markup=False
            )
            if token.source == "environment":
                console.print(
                    "That key is configured, not stored: there is nothing to log in to.",
                    markup=False,
                )
                return
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


@app.command("logout", help=LOGOUT_HELP)
@_command
def logout(at: AtOption = None) -> None:
    """``anaconda auth logout``: remove the stored key from every writable storage."""
    from anaconda_auth import actions

    site = _use_site(at)
    console = err_console()
    domain = actions.load_site_config(site).domain
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


@app.command("whoami", help=WHOAMI_HELP)
@_command
def whoami(at: AtOption = None, as_json: JsonOption = False) -> None:
    """``anaconda auth whoami``."""
    from anaconda_auth.actions import current_token
    from anaconda_auth.client import BaseClient

    site = _use_site(at)
    token = current_token(site)
    token.get_access_token()  # TokenExpiredError before asking the server
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
@_command
def api_key(at: AtOption = None) -> None:
    """``anaconda auth api-key``: only the key on stdout."""
    from anaconda_auth.actions import current_token

    site = _use_site(at)
    key = current_token(site).get_access_token()
    sys.stdout.write(key + "\n")
    sys.stdout.flush()


@app.command("plugins", help=PLUGINS_HELP)
@_command
def plugins(as_json: JsonOption = False) -> None:
    """``anaconda auth plugins``."""
    from anaconda_auth.plugins.cli.error_handlers import plugin_manager

    from anaconda_auth.plugin_types import backend_priority

    pm = plugin_manager()
    infos = pm.plugin_infos()
    backends = pm.get_storage_backends()
    sources = pm.get_config_sources()

    preferred: str | None = None
    read_order: list[str] = []
    config_error: str | None = None
    try:
        from anaconda_auth.config import AnacondaAuthConfig
        from anaconda_auth.storage import access

        config = AnacondaAuthConfig()
        preferred = config.preferred_token_storage
        read_order = [b.name for b in access.read_order(config)]
    except Exception as exc:  # noqa: BLE001 - still show the plugins when the config is broken
        config_error = f"{type(exc).__name__}: {exc}"

    backend_rows: list[dict[str, Any]] = []
    for name, backend in backends.items():
        try:
            ok, reason = backend.is_available()
        except Exception as exc:  # noqa: BLE001 - a backend's check must not hide the others
            ok, reason = False, f"the check failed: {type(exc).__name__}: {exc}"
        backend_rows.append(
            {
                "name": name,
                "description": backend.description,
                "available": ok,
                "reason": reason,
                "read_only": backend.read_only,
                "priority": backend_priority(backend),
                "preferred": name == preferred,
            }
        )
    plugin_rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "module": i.module,
            "distribution": i.distribution,
            "version": i.version,
            "builtin": i.builtin,
            "status": i.status,
        }
        for i in infos
    ]
    source_rows: list[dict[str, Any]] = [
        {"name": s.name, "rank": s.rank, "description": s.description} for s in sources
    ]
    if as_json:
        data = {
            "plugins": plugin_rows,
            "storage_backends": backend_rows,
            "preferred_token_storage": preferred,
            "read_order": read_order,
            "config_sources": source_rows,
            "config_error": config_error,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return

    console = out_console()
    table = _table("Plugins", "Name", "Status", "Distribution", "Version")
    for p in plugin_rows:
        style = None if p["status"] == "loaded" else ("dim" if p["status"] == "disabled" else "red")
        dist = (p["distribution"] or "?") + (" (built-in)" if p["builtin"] else "")
        _add_row(table, p["name"], p["status"], dist, p["version"] or "?", style=style)
    console.print(table)

    table = _table("Token storage", "Name", "Available", "Description")
    for b in backend_rows:
        desc = b["description"]
        if b["preferred"]:
            desc += " (preferred: new API keys are stored here)"
        available = "yes" if b["available"] else f"no: {b['reason']}"
        _add_row(table, b["name"], available, desc, style=None if b["available"] else "dim")
    console.print(table)
    if read_order:
        console.print(
            f"API keys are read from: {', '.join(read_order)} (the first that has one wins).",
            markup=False,
        )
    if config_error:
        console.print(f"The configuration could not be read: {config_error}", markup=False)

    table = _table("Config sources (the highest rank wins)", "Rank", "Name", "Description")
    _add_row(table, "∞", "arguments", "explicit arguments (command-line options, Python calls)")
    for src in source_rows:
        _add_row(table, str(src["rank"]), src["name"], src["description"])
    _add_row(table, "0", "defaults", "the built-in defaults")
    console.print(table)


def _table(title: str | None, *columns: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _add_row(table: Table, *cells: str, style: str | None = None) -> None:
    """A row of plain text: values such as "[sites.<name>]" are not rich markup."""
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells), style=style)


@app.command("config", help=CONFIG_HELP)
@_command
def config(at: AtOption = None, as_json: JsonOption = False) -> None:
    """``anaconda auth config``."""
    site = _use_site(at)
    rows, unknown = _explain(site)
    if as_json:
        data = {"settings": rows, "unknown_keys": unknown}
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    table = _table(None, "Setting", "Value", "Source")
    for row in rows:
        _add_row(table, row["key"], _show(row["value"]), row["location"])
    out_console().print(table)
    for row in unknown:
        err_console().print(
            f"Warning: unknown setting {row['key']!r} in {row['location']} is ignored (a typo?).",
            markup=False,
            style="yellow",
        )


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _explain(site: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each resolved setting (value masked, source, location), and the unknown keys."""
    from anaconda_auth.config import explain, unknown_keys

    explicit: dict[str, Any] = {"site": site} if site else {}
    rows = [
        {
            "key": item.key,
            "value": item.value,
            "source": item.source,
            "location": item.location,
            "masked": item.masked,
        }
        for item in explain(**explicit)
    ]
    unknown = [
        {"key": item.key, "source": item.source, "location": item.location}
        for item in unknown_keys(**explicit)
    ]
    return rows, unknown
