"""The module name of the command line in anaconda-auth 0.15 (now :mod:`anaconda_auth.plugins.cli`).

Kept because packages built on 0.15 import from it: ``app``, and the two helpers their own
error handlers call (anaconda-ai does), ``_login_required_message`` and
``_continue_with_login``. New code registers error handlers through the
``anaconda_auth_error_handlers`` hook instead.

``sys`` and ``login`` are module attributes on purpose, as in 0.15: anaconda-assistant-conda
patches ``anaconda_auth.cli.sys`` (its ``stdout.isatty()`` decides whether the login-required
handlers may prompt) and its tests patch ``anaconda_auth.cli.login`` (the login those handlers
start). Both patches reach our handlers (``anaconda_auth.plugins.cli``) and the helpers below.
"""

from __future__ import annotations

import sys
from typing import Any

from anaconda_auth.actions import login
from anaconda_auth.plugins.cli import app

__all__ = ["app"]

_REAL_SYS = sys


def _register_handlers() -> None:
    """As 0.15 did on import: our handlers in anaconda-cli-base's registry, whichever of the
    two modules a program imported first (anaconda-ai imports this module, then
    ``anaconda_cli_base.exceptions``; anaconda-assistant-conda the other way round)."""
    try:
        import anaconda_cli_base.exceptions  # noqa: F401 - the registry to fill
    except ImportError:  # pragma: no cover - a dependency; the standalone CLI works without
        return
    from anaconda_auth.plugins.cli.dispatch import register_with_cli_base

    register_with_cli_base()


_register_handlers()


def _interactive() -> bool:
    """0.15 prompted when ``sys.stdout`` is a terminal; while ``anaconda_auth.cli.sys`` is
    patched that answer is used, otherwise our rule (stdin and stderr are terminals)."""
    from anaconda_auth.plugins.cli._state import is_interactive

    if sys is not _REAL_SYS:
        return bool(sys.stdout.isatty())
    return is_interactive()


def _login_required_message(error_classifier: str) -> None:
    """Print ``<error_classifier>: Login is required to complete this action.`` on stderr."""
    from anaconda_auth.plugins.cli._state import err_console

    console = err_console()
    console.print(f"[bold red]{error_classifier}:[/bold red] ", end="")
    console.print("Login is required to complete this action.", markup=False)


def _continue_with_login() -> int:
    """On a terminal, offer an interactive login: ``-1`` (run the command again) after it
    succeeds. Otherwise (or when declined) print how to log in and return ``1``."""
    from anaconda_auth.plugin_types import RETRY_AFTER_LOGIN
    from anaconda_auth.plugins.cli.error_handlers import _ask_to_login, print_how_to_login

    if _interactive() and _ask_to_login():
        from anaconda_auth.plugins.cli._state import err_console
        from anaconda_auth.plugins.cli.ui import RichLoginUI

        login(force=True, ui=RichLoginUI(err_console()))
        return RETRY_AFTER_LOGIN
    print_how_to_login()
    return 1


def _post_login_setup(ssl_verify: bool | str | None = None) -> None:
    """0.15's setup after ``anaconda auth login`` (see :mod:`anaconda_auth._conda.post_login`).

    ``fetch_org_features`` is looked up on this module when called, so patching
    ``anaconda_auth.cli.fetch_org_features`` (0.15's tests do) replaces the fetch.
    """
    from anaconda_auth._conda.post_login import post_login_setup

    fetch = sys.modules[__name__].fetch_org_features
    post_login_setup(ssl_verify=ssl_verify, fetch=fetch)


def __getattr__(name: str) -> Any:
    """0.15's names from :mod:`anaconda_auth.env_logger`, imported on first use: the client
    stack they need is not loaded by ``import anaconda_auth.cli``."""
    if name in ("fetch_org_features", "get_orgs_with_env_logger"):
        from anaconda_auth import env_logger

        value = getattr(env_logger, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
