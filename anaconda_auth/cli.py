"""The module name of the command line in anaconda-auth 0.15 (now :mod:`anaconda_auth.plugins.cli`).

Kept because packages built on 0.15 import from it: ``app``, and the two helpers their own
error handlers call (anaconda-ai does), ``_login_required_message`` and
``_continue_with_login``. New code registers error handlers through the
``anaconda_auth_error_handlers`` hook instead.
"""

from __future__ import annotations

from anaconda_auth.plugins.cli import app

__all__ = ["app"]


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
    from anaconda_auth.plugins.cli._state import is_interactive
    from anaconda_auth.plugins.cli.error_handlers import _ask_to_login, print_how_to_login

    if is_interactive() and _ask_to_login():
        from anaconda_auth.actions import login
        from anaconda_auth.plugins.cli._state import err_console
        from anaconda_auth.plugins.cli.ui import RichLoginUI

        login(force=True, ui=RichLoginUI(err_console()))
        return RETRY_AFTER_LOGIN
    print_how_to_login()
    return 1
