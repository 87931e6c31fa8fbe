"""``anaconda auth status``: every configured site, its stored credential, and whether it works.

One row per configured site (the default site first) and per stored account on it: the
account the site uses, then the other accounts stored for its domain (decision 0049; a site
that pins an ``account`` shows that one only). ``active``: the account is the domain's active
one, which clients that pin no account use. Unless
``--offline``, each distinct credential is checked with one bounded ``GET /api/account``, all
at once (threads). The table goes to stdout (``--json``: a list of objects with exactly the
keys of :data:`JSON_KEYS`); the exit code is 0 when every stored credential is unexpired and
(online) accepted, 1 when any is expired, rejected or unreachable, or nothing is logged in
(docs/dev/decisions/0045-status-json-and-exit-codes.md). Keys are never printed.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from anaconda_auth.plugins.cli._app import JsonOption, app, routed_errors

if TYPE_CHECKING:
    from anaconda_auth.plugins.cli.credentials import Check

    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo

STATUS_HELP = (
    "Show every configured site, the account logged in there, where its API key is kept, "
    "when it expires, and whether the server accepts it.\n\n"
    "Checks each API key with one request to the site (GET /api/account), unless --offline. "
    "Exit codes: 0 when every stored API key is unexpired and accepted; 1 when one is expired, "
    "rejected or its site cannot be reached, or when you are logged in nowhere. API keys are "
    "never printed."
)
OfflineOption = Annotated[
    bool,
    typer.Option("--offline", help="Do not contact the sites: report only what is stored."),
]

#: The keys of each ``--json`` object, in order.
JSON_KEYS = (
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
)
MAX_THREADS = 8


@dataclass
class Row:
    """One site and account. ``config`` and ``api_key`` stay private (never printed)."""

    site: str
    domain: str
    default: bool
    account: str | None = None
    active: bool = False
    logged_in: bool = False
    source: str | None = None
    expires: dt.datetime | None = None
    valid: bool | None = None
    error: str | None = None
    expired: bool = False
    broken: bool = False  # the config or the stored credential could not be read
    config: AnacondaAuthSite | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        from anaconda_auth.plugins.cli.credentials import iso

        values = {
            "site": self.site,
            "domain": self.domain,
            "default": self.default,
            "account": self.account,
            "active": self.active,
            "logged_in": self.logged_in,
            "source": self.source,
            "expires_at": iso(self.expires),
            "valid": self.valid,
            "error": self.error,
        }
        return {key: values[key] for key in JSON_KEYS}

    @property
    def failed(self) -> bool:
        """Whether this row makes the exit code 1 (online: not accepted; always: expired)."""
        if self.broken:
            return True
        if not self.logged_in:
            return False
        return self.expired or self.valid is False or (self.error is not None)


def site_names() -> tuple[list[str], str | None]:
    """The configured site names, the default first, and the default's name.

    When a site table is invalid, the names come from the file as written, so that the
    other sites are still shown (the broken one as a row with its error).
    """
    from anaconda_auth.config import AnacondaAuthSitesConfig
    from anaconda_auth.config.constants import DEFAULT_DOMAIN
    from anaconda_auth.exceptions import ConfigError

    default: str | None
    try:
        sites = AnacondaAuthSitesConfig()
    except ConfigError:
        from anaconda_auth.config.site_tables import read_sites

        tables = read_sites()
        names = list(tables.tables) or [DEFAULT_DOMAIN]
        default = tables.default_site if tables.default_site in names else names[0]
    else:
        names = list(sites.sites.root)
        default = sites.default_site
    if default is not None and default in names:
        names.remove(default)
        names.insert(0, default)
    return names, default


def read_rows(name: str, default: bool) -> list[Row]:
    """The rows of one site (its account, then the domain's other stored accounts), from its
    configuration and storage alone (no request)."""
    from anaconda_auth.config import AnacondaAuthConfig
    from anaconda_auth.exceptions import TokenNotFoundError
    from anaconda_auth.storage import accounts
    from anaconda_auth.token import TokenInfo

    try:
        config = AnacondaAuthConfig(site=name)  # as `--at NAME` resolves a configured site
    except Exception as exc:  # noqa: BLE001 - one broken site never hides the others
        return [Row(name, "", default, error=f"{type(exc).__name__}: {exc}", broken=True)]
    row = Row(name, config.domain, default, config=config)
    try:
        token = TokenInfo.load(config.domain, config=config)
    except TokenNotFoundError:
        token = None
    except Exception as exc:  # noqa: BLE001
        row.error = f"cannot read the stored API key: {type(exc).__name__}: {exc}"
        row.broken = True
        return [row]
    rows = [row]
    if token is None or not token.api_key:
        token = None
    else:
        _fill(row, token)
    try:
        active = accounts.active(config.domain, config)
        others = [] if config.account is not None else accounts.inactive(config.domain, config)
    except Exception:  # noqa: BLE001 - the first row already says what can be read
        return rows
    if token is not None:
        row.active = token.source == "environment" or token.username in (active, None)
    for account in reversed(others):  # most recently active first
        if token is not None and account == token.username and token.source != "environment":
            continue
        value = accounts.inactive_value(config.domain, account, config)
        if value is None:
            continue
        other = Row(name, config.domain, default, config=config)
        _fill(other, TokenInfo._from_stored(value, config.preferred_token_storage))
        other.account = other.account or account
        rows.append(other)
    return rows


def _fill(row: Row, token: TokenInfo) -> None:
    from anaconda_auth.plugins.cli.credentials import date_text, key_expiry, source_name

    assert token.api_key is not None
    row.logged_in = True
    row.account = token.username
    row.source = source_name(token)
    row.api_key = token.api_key
    row.expires = key_expiry(token.api_key)
    row.expired = token.expired
    if row.expired:
        row.valid = False
        when = f" on {date_text(row.expires)}" if row.expires else ""
        row.error = f"the API key expired{when}"


def check_rows(rows: list[Row]) -> None:
    """Ask each site whether it accepts its key: one request per distinct credential, at once."""
    from concurrent.futures import ThreadPoolExecutor

    from anaconda_auth.plugins.cli.credentials import account_name, check_key

    todo: dict[tuple[str, str], Row] = {}
    for row in rows:
        if row.logged_in and not row.expired and row.api_key and row.config is not None:
            todo.setdefault((row.domain, row.api_key), row)
    if not todo:
        return

    def check(row: Row) -> Check:
        assert row.config is not None and row.api_key is not None
        return check_key(row.config, row.api_key)

    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(todo))) as pool:
        results = dict(zip(todo, pool.map(check, todo.values()), strict=True))
    for row in rows:
        result = results.get((row.domain, row.api_key or ""))
        if result is None:
            continue
        row.valid = result.valid
        row.error = result.error
        if row.account is None:
            row.account = account_name(result.account)


def collect(offline: bool) -> list[Row]:
    names, default = site_names()
    rows = [row for name in names for row in read_rows(name, name == default)]
    if not offline:
        check_rows(rows)
    return rows


def exit_code(rows: list[Row]) -> int:
    if not any(row.logged_in for row in rows):
        return 1
    return 1 if any(row.failed for row in rows) else 0


def _expires_cell(row: Row) -> str:
    from anaconda_auth.plugins.cli.credentials import date_text, expires_soon, relative
    from rich.markup import escape

    if not row.logged_in:
        return ""
    if row.expires is None:
        return "unknown"
    text = f"{date_text(row.expires)} ({relative(row.expires)})"
    if row.expired:
        return f"[red]{escape(text)}[/red]"
    if row.config is not None and expires_soon(row.expires, row.config):
        return f"[yellow]{escape(text)} \N{EM DASH} expires soon[/yellow]"
    return escape(text)


def _state_cell(row: Row, offline: bool) -> str:
    from rich.markup import escape

    if row.broken:
        return f"[red]error: {escape(row.error or '')}[/red]"
    if not row.logged_in:
        return "[dim]not logged in[/dim]"
    if row.expired:
        return "[red]expired[/red]"
    if row.valid is True:
        return "[green]valid[/green]"
    if row.valid is False:
        return f"[red]{escape(row.error or 'rejected')}[/red]"
    if offline:
        return "not checked (--offline)"
    return f"[yellow]unknown: {escape(row.error or 'not checked')}[/yellow]"


def print_table(rows: list[Row], offline: bool) -> None:
    from anaconda_auth.plugins.cli._state import err_console, out_console
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    for title in ("Site", "Domain", "Default", "Account", "Source", "Expires", "Status"):
        table.add_column(title, overflow="fold")  # never cut short with an ellipsis
    for row in rows:
        table.add_row(
            escape(row.site),
            escape(row.domain),
            "\N{CHECK MARK}" if row.default else "",
            escape(row.account or ("(unknown)" if row.logged_in else ""))
            + ("" if row.active or not row.logged_in else " [dim](inactive)[/dim]"),
            escape(row.source or ""),
            _expires_cell(row),
            _state_cell(row, offline),
        )
    out_console().print(table)
    if not any(row.logged_in for row in rows):
        err_console().print(
            "You are not logged in to any site; log in with `anaconda auth login`.", markup=False
        )


@app.command("status", help=STATUS_HELP)
@routed_errors
def status(as_json: JsonOption = False, offline: OfflineOption = False) -> None:
    """``anaconda auth status``."""
    rows = collect(offline)
    if as_json:
        data = [row.public() for row in rows]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print_table(rows, offline)
    code = exit_code(rows)
    if code:
        raise typer.Exit(code)
