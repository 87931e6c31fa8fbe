"""The exceptions anaconda-auth raises; the names match the existing anaconda-auth."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    import requests


class AnacondaAuthError(Exception):
    """Base of every error this package raises on purpose."""


class AuthenticationError(AnacondaAuthError):
    """Logging in failed."""


class InvalidTokenError(AuthenticationError):
    """A token returned by the identity provider could not be used."""


class TokenNotFoundError(AnacondaAuthError):
    """No stored token for the domain."""


class TokenExpiredError(AnacondaAuthError):
    """The stored API key has expired.

    ``domain`` and ``expires_at`` (an aware UTC datetime) say which key and when, when known.
    """

    def __init__(
        self, *args: object, domain: str | None = None, expires_at: dt.datetime | None = None
    ) -> None:
        super().__init__(*args)
        self.domain = domain
        self.expires_at = expires_at


class LoginRequiredError(AnacondaAuthError):
    """The operation needs a logged-in user."""


class UnknownSiteName(AnacondaAuthError):
    """A site name that is not configured."""


class ConfigError(AnacondaAuthError, ValueError):
    """A configuration value is invalid; the message names the source, the key and the fix."""


class StorageError(AnacondaAuthError):
    """A token store could not be read or written; the message names the store and the remedy."""


class StorageUnavailableError(StorageError):
    """The selected token store is not usable on this machine."""


class PluginError(AnacondaAuthError):
    """A plugin is misconfigured (for example, two plugins register the same name)."""


class DeviceFlowError(AuthenticationError):
    """The device authorization grant failed."""


class DeviceFlowTimeout(DeviceFlowError):
    """The device code expired before the user approved it."""


class DeviceFlowDenied(DeviceFlowError):
    """The user denied the device authorization request."""


if TYPE_CHECKING:

    class AuthenticationMissingError(requests.HTTPError, AnacondaAuthError):
        """The server requires authentication and the request carried no API key."""

    class InvalidAuthentication(requests.HTTPError, AnacondaAuthError):
        """The server rejected the API key the request carried."""

else:

    def __getattr__(name: str) -> Any:
        # The two HTTP errors subclass requests.HTTPError, and importing requests costs tens
        # of milliseconds: they are created when first asked for, so that reading a token
        # (`anaconda auth api-key`) never imports requests.
        if name in ("AuthenticationMissingError", "InvalidAuthentication"):
            _define_http_errors()
            return globals()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_lock = threading.Lock()


def _define_http_errors() -> None:
    namespace = globals()
    with _lock:
        if "InvalidAuthentication" in namespace:
            return
        _create_http_errors(namespace)
    _register_with_cli()


class PluginWarning(UserWarning):
    """A third-party plugin (or one of its config sources) was skipped."""


def _create_http_errors(namespace: dict[str, Any]) -> None:
    import requests

    class AuthenticationMissingError(requests.HTTPError, AnacondaAuthError):
        """The server requires authentication and the request carried no API key."""

    class InvalidAuthentication(requests.HTTPError, AnacondaAuthError):
        """The server rejected the API key the request carried."""

    for cls in (AuthenticationMissingError, InvalidAuthentication):
        cls.__qualname__ = cls.__name__  # pickling and reprs find them at module level
        namespace[cls.__name__] = cls


def _register_with_cli() -> None:
    """Hand these types to anaconda-cli-base's error registry, if the CLI plugin is loaded.

    anaconda-cli-base looks error handlers up by exact exception type. The ``anaconda auth``
    plugin module cannot import this module when it loads (that would import ``requests``
    whenever any ``anaconda`` command starts), so it registers the types when they first exist.
    """
    cli = sys.modules.get("anaconda_auth.plugins.cli")
    register = getattr(cli, "register_with_cli_base", None)
    if register is not None:
        register()


_register_with_cli()
