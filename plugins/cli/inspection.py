"""The inspection commands of ``anaconda auth``: ``plugins`` and ``config``.

Results go to stdout (as tables, or JSON with ``--json``); warnings go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from anaconda_auth.plugins.cli._app import AtOption, JsonOption, app, routed_errors, use_site
from anaconda_auth.plugins.cli._state import err_console, out_console

if TYPE_CHECKING:
    from rich.table import Table

PLUGINS_HELP = "List the plugins, the token storage backends and the config sources."
CONFIG_HELP = (
    "Show every configuration setting, its value and where it came from.\n\n"
    "Secrets are masked. Settings come from, highest first: ANACONDA_AUTH_* environment "
    "variables, the secrets directory, .env, the selected [sites.<name>] table and "
    "[plugin.auth] in ~/.anaconda/config.toml; see `anaconda auth plugins`."
)


@app.command("plugins", help=PLUGINS_HELP)
@routed_errors
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
    warnings: list[str] = []
    try:
        from anaconda_auth.config import AnacondaAuthConfig, unknown_names
        from anaconda_auth.storage import access as token_storage

        config = AnacondaAuthConfig()
        preferred = config.preferred_token_storage
        read_order = [b.name for b in token_storage.read_order(config)]
        warnings = [item.message() for item in unknown_names()]
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
                "priority": _json_number(backend_priority(backend)),
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
            "config_warnings": warnings,
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
    for message in warnings:
        err_console().print(f"Warning: {message}.", markup=False, style="yellow")


def _json_number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


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
@routed_errors
def config(at: AtOption = None, as_json: JsonOption = False) -> None:
    """``anaconda auth config``."""
    site = use_site(at)
    rows, unknown, warnings = _explain(site)
    if as_json:
        data = {"settings": rows, "unknown_keys": unknown, "warnings": warnings}
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    table = _table(None, "Setting", "Value", "Source")
    for row in rows:
        _add_row(table, _cut(row["key"]), _show(row["value"]), _cut(row["location"]))
    out_console().print(table)
    for message in warnings:
        err_console().print(f"Warning: {message}.", markup=False, style="yellow")


#: The longest value shown in a table cell; `--json` gives the whole value.
SHOWN_CHARS = 200


def _cut(text: str) -> str:
    """A cell's text, at most :data:`SHOWN_CHARS` characters (rich lays out a megabyte of text
    for minutes)."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}... ({len(text)} characters; --json shows it all)"


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return _cut(value)
    return _cut(json.dumps(value, default=str))


def _explain(site: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Each resolved setting (value masked, source, location), the unknown keys, and the
    warnings about names nothing reads (each with the closest valid name)."""
    from anaconda_auth.config import explain, unknown_keys, unknown_names

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
    return rows, unknown, [item.message() for item in unknown_names(**explicit)]
