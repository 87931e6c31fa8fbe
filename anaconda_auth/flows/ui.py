"""How a login flow talks to the person logging in.

The flows only call a :class:`LoginUI`; the Python API uses :class:`PlainUI` (stderr), the CLI
passes a richer one (spinners, colours).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class LoginUI(Protocol):
    """How a login flow talks to the person logging in. The CLI passes a richer one."""

    def show_authorize_url(self, url: str) -> None:
        """The browser flow opened (or could not open) this URL."""

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        """The device flow needs the user to visit a URL and enter a code."""

    def waiting(self, message: str) -> AbstractContextManager[None]:
        """A context manager shown while waiting (a spinner in the CLI)."""


class PlainUI:
    """Prints to stderr; used by the Python API when no UI is given."""

    def show_authorize_url(self, url: str) -> None:
        print(
            f"Opening your browser to log in. If it does not open, visit:\n  {url}", file=sys.stderr
        )

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        print(
            f"To log in, visit {verification_uri} and enter the code {user_code}", file=sys.stderr
        )
        if complete_uri:
            print(f"or open {complete_uri}", file=sys.stderr)

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        print(message, file=sys.stderr)
        yield
