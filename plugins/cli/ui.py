"""The CLI's :class:`anaconda_auth.actions.LoginUI`: rich output with a spinner on a terminal.

Everything goes to stderr, so ``stdout`` stays clean for the results scripts read. Off a
terminal (CI logs, pipes) the spinner becomes one plain line per state, and URLs are never
wrapped, so they can be copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


class RichLoginUI:
    """Shows the authorize URL or the device code, and a spinner while the flow waits."""

    def __init__(self, console: Console | None = None) -> None:
        if console is None:
            from anaconda_auth.plugins.cli._state import err_console

            console = err_console()
        self.console = console

    def show_authorize_url(self, url: str) -> None:
        self.console.print("Opening your browser to log in. If it does not open, visit:")
        self.console.print(f"  {url}", markup=False, soft_wrap=True, style="cyan")

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        self.console.print("To log in, open this page in a browser on any device:")
        self.console.print(f"  {verification_uri}", markup=False, soft_wrap=True, style="cyan")
        self.console.print("and enter the code:")
        self.console.print(f"  {user_code}", markup=False, style="bold")
        if complete_uri:
            self.console.print("Or open this link, which fills in the code for you:")
            self.console.print(f"  {complete_uri}", markup=False, soft_wrap=True, style="cyan")

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        if self.console.is_terminal:
            with self.console.status(message, spinner="dots"):
                yield
        else:
            self.console.print(message, markup=False)
            yield
