"""Logging in and out: the public ``login`` / ``logout`` and what the CLI builds on.

(Interface fixed by the framework; the login-flows work fills in the bodies.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo


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


def login(
    site: str | AnacondaAuthSite | None = None,
    ssl_verify: bool | str | None = None,
    force: bool = False,
    *,
    device: bool | None = None,
    ui: LoginUI | None = None,
) -> None:
    """Log in interactively and store a new API key, unless a valid one exists and not ``force``.

    ``device=True`` forces the device-code flow, ``False`` the browser flow, ``None`` picks
    (``use_device_flow`` in config, or the device flow when no browser can be opened).
    """
    raise NotImplementedError


def logout(site: str | AnacondaAuthSite | None = None) -> None:
    """Remove the stored API key for the site; no error if there is none."""
    raise NotImplementedError


def is_logged_in(site: str | AnacondaAuthSite | None = None) -> bool:
    """Whether a stored, unexpired API key exists for the site."""
    raise NotImplementedError


def load_site_config(
    site: str | AnacondaAuthSite | None = None, **overrides: object
) -> AnacondaAuthSite:
    """The config for a site name, a domain, a site object, or the default site."""
    raise NotImplementedError


def current_token(site: str | AnacondaAuthSite | None = None) -> TokenInfo:
    """The stored token for the site (with ``.source``), or ``TokenNotFoundError``."""
    raise NotImplementedError
