"""The built-in CLI error handlers, contributed through the ``anaconda_auth_error_handlers`` hook.

Each handler prints a short message on stderr and returns the exit code, or
:data:`~anaconda_auth.plugin_types.RETRY_AFTER_LOGIN` after a successful interactive login, to
have the command run once more. Handlers are found along the exception's MRO by
:func:`anaconda_auth.plugins.cli.dispatch.handle_exception`, so the ``AnacondaAuthError``
handler covers every error of this package that has no more specific one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from anaconda_auth.plugins.cli._state import (
    STATE,
    err_console,
    is_interactive,
    login_command,
)

from anaconda_auth.exceptions import (
    AnacondaAuthError,
    LoginRequiredError,
    TokenExpiredError,
    TokenNotFoundError,
)
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import RETRY_AFTER_LOGIN, ErrorHandler

if TYPE_CHECKING:
    import requests

    from anaconda_auth.manager import AnacondaAuthPluginManager

# requests (and the two exceptions that subclass its HTTPError) are imported only when an error
# is handled: this module is loaded with the plugin manager, on every token read.

API_KEY_ENV = "ANACONDA_AUTH_API_KEY"
PLUGIN_NAME = "cli-error-handlers"


def plugin_manager() -> AnacondaAuthPluginManager:
    """The plugin manager, with this module registered as the CLI's built-in plugin.

    The core's manager lists only the plugins below it (storage, config sources); the CLI sits
    above the core, so it adds its own error handlers when it needs the manager.
    """
    from anaconda_auth.manager import get_plugin_manager

    pm = get_plugin_manager()
    pm.register_builtin(sys.modules[__name__], PLUGIN_NAME)
    return pm


#: 0.15's sentences, word for word: other packages match on ``ExceptionName: sentence``.
LOGIN_REQUIRED = "Login is required to complete this action."
TOKEN_EXPIRED = "Your login token has expired"
INVALID_KEY = "Your provided API Key or login token is invalid"


@cache
def login_required_texts() -> dict[type[BaseException], str]:
    """The exceptions that mean "log in and try again", with the sentence shown for each."""
    from anaconda_auth.exceptions import AuthenticationMissingError, InvalidAuthentication

    return {
        TokenNotFoundError: LOGIN_REQUIRED,
        LoginRequiredError: LOGIN_REQUIRED,
        AuthenticationMissingError: LOGIN_REQUIRED,
        TokenExpiredError: TOKEN_EXPIRED,
        InvalidAuthentication: INVALID_KEY,
    }


def print_headline(exc: BaseException, text: str | None = None) -> None:
    """``ExceptionName: text`` (the exception's message by default) on stderr, never wrapped."""
    from anaconda_auth.http.text import printable

    console = err_console()
    console.print(f"[bold red]{type(exc).__name__}:[/bold red] ", end="")
    # Exception texts may carry what a server sent: never its terminal escape sequences.
    console.print(printable(text if text is not None else str(exc)), markup=False)


def print_named_headline(name: str, text: str) -> None:
    """``name: text`` on stderr, as :func:`print_headline` prints an exception."""
    from anaconda_auth.http.text import printable

    console = err_console()
    console.print(f"[bold red]{name}:[/bold red] ", end="")
    console.print(printable(text), markup=False)


def print_how_to_login() -> None:
    console = err_console()
    console.print("To log in, run")
    console.print(f"  {login_command()}", style="green", markup=False)
    console.print(
        f"or set the {API_KEY_ENV} environment variable to an API key (for scripts and CI).",
        markup=False,
    )


def _configured_api_key() -> str | None:
    """Where an API key is configured (the environment variable or a config file), if one is.

    When the key comes from configuration, logging in cannot help: it would store a new key
    that the configured one keeps hiding.
    """
    if os.environ.get(API_KEY_ENV):
        return API_KEY_ENV
    try:
        from anaconda_auth.actions import load_site_config

        if load_site_config(STATE.site).api_key:
            return "the api_key setting (see `anaconda auth config`)"
    except Exception:  # noqa: BLE001 - a broken config is reported by the command itself
        return None
    return None


def _expired_key(exc: BaseException) -> tuple[str, str | None, Any] | None:
    """(domain, account, expiry) of the expired key behind ``exc``, if that is the cause.

    A :class:`TokenExpiredError` says so; an ``AuthenticationMissingError`` (the client sent
    no key, as it never sends an expired one) is caused by it when the site's stored key
    has expired.
    """
    from anaconda_auth.exceptions import AuthenticationMissingError

    if isinstance(exc, TokenExpiredError) and exc.expires_at is not None:
        return exc.domain or "the site", None, exc.expires_at
    if not isinstance(exc, (TokenExpiredError, AuthenticationMissingError)):
        return None
    try:
        from anaconda_auth.actions import current_token

        token = current_token(STATE.site)
        if token.api_key is None or not token.expired or token.expires_at is None:
            return None
    except Exception:  # noqa: BLE001 - only an explanation
        return None
    return token.domain, token.username, token.expires_at


def print_expiry_note(exc: BaseException) -> None:
    """When an expired key caused ``exc``: which key, and on which date (UTC)."""
    found = _expired_key(exc)
    if found is None:
        return
    domain, account, expires = found
    who = f" ({account})" if account else ""
    err_console().print(
        f"Your API key for {domain}{who} expired on {expires:%Y-%m-%d %H:%M UTC}.", markup=False
    )


def _ask_to_login() -> bool:
    from rich.prompt import Confirm

    try:
        return Confirm.ask("Continue with interactive login?", console=err_console())
    except (EOFError, KeyboardInterrupt):
        err_console().print()
        return False


def login_required(exc: BaseException, name: str | None = None, text: str | None = None) -> int:
    """Offer an interactive login on a terminal (once per command); otherwise explain how.

    The first line is 0.15's: ``<name>: <text>``, by default the exception's name and the
    sentence :func:`login_required_texts` has for its class.
    """
    texts = login_required_texts()
    if text is None:
        text = texts.get(type(exc))
    if text is None:
        text = next((t for cls, t in texts.items() if isinstance(exc, cls)), LOGIN_REQUIRED)
    if name is None:
        print_headline(exc, text)
    else:
        print_named_headline(name, text)
    print_expiry_note(exc)
    console = err_console()

    configured = _configured_api_key()
    if configured is not None:
        console.print(
            f"The API key comes from {configured}: replace it with a valid key, or remove it "
            f"and log in with `{login_command()}`.",
            markup=False,
        )
        return 1

    if STATE.retried:
        console.print("Logging in again did not help.")
        print_how_to_login()
        return 1

    if is_interactive() and _ask_to_login():
        STATE.retried = True
        from anaconda_auth.plugins.cli.ui import RichLoginUI

        # 0.15's handlers called ``anaconda_auth.cli.login``; tests of other packages patch it.
        login: Any = getattr(sys.modules.get("anaconda_auth.cli"), "login", None)
        if login is None:
            from anaconda_auth.actions import login as actions_login

            login = actions_login

        try:
            login(STATE.site, force=True, ui=RichLoginUI(console))
        except KeyboardInterrupt:
            console.print("\nLogin cancelled; nothing was stored.")
            return 130  # as click exits on Ctrl-C
        except Exception as login_exc:  # noqa: BLE001 - rendered like any other error
            from anaconda_auth.plugins.cli.dispatch import handle_exception

            code = handle_exception(login_exc)
            return 1 if code == RETRY_AFTER_LOGIN else code
        console.print("[green]✔[/green] Logged in. Running the command again.")
        return RETRY_AFTER_LOGIN

    print_how_to_login()
    return 1


def _json_error(response: requests.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _server_message(data: dict[str, Any]) -> str | None:
    """A human message from the usual error body shapes, if the server sent one."""
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail")
        if isinstance(message, str):
            return message
    for key in ("message", "detail", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return None


def http_error(exc: BaseException) -> int:
    """``HTTPError: 422 Client Error: Unprocessable Entity for url: ...`` plus the server's word."""
    import requests

    assert isinstance(exc, requests.HTTPError)
    data = _json_error(exc.response)
    error = data.get("error")
    if isinstance(error, dict) and error.get("code") == "auth_required":
        # A plain HTTPError (raise_for_status() of another client): named as 0.15 named it,
        # by whether the request carried credentials.
        request = exc.request
        headers = getattr(request, "headers", None) or {}
        if "Authorization" in headers:
            return login_required(exc, "InvalidAuthentication", INVALID_KEY)
        return login_required(exc, "AuthenticationMissingError", LOGIN_REQUIRED)
    text = str(exc)
    if not text and exc.response is not None:
        r = exc.response
        text = f"{r.status_code} {r.reason} for url: {r.url}"
    print_headline(exc, text)
    message = _server_message(data)
    if message and message not in text:
        from anaconda_auth.http.text import printable

        err_console().print(f"  {printable(message)}", markup=False)
    return 1


def _host(exc: requests.RequestException) -> str:
    request = exc.request
    url = getattr(request, "url", None) if request is not None else None
    if not url:
        return "the server"
    return urlsplit(str(url)).netloc or str(url)


def connection_error(exc: BaseException) -> int:
    import requests

    assert isinstance(exc, requests.RequestException)
    print_headline(exc, f"Could not connect to {_host(exc)}.")
    err_console().print(f"  {exc}", markup=False, style="dim")
    err_console().print(
        "Check your network connection, the domain in `anaconda auth config`, and "
        "proxy_servers if you need a proxy.",
        markup=False,
    )
    return 1


def timeout_error(exc: BaseException) -> int:
    """A server that accepted the request but did not answer in time (a read timeout)."""
    import requests

    assert isinstance(exc, requests.RequestException)
    print_headline(exc, f"{_host(exc)} did not answer in time.")
    err_console().print(
        "The server may be busy: try again later. To wait longer, raise http_timeout "
        "(ANACONDA_AUTH_HTTP_TIMEOUT, in seconds; `anaconda auth config` shows the value).",
        markup=False,
    )
    return 1


def ssl_error(exc: BaseException) -> int:
    import requests

    assert isinstance(exc, requests.RequestException)
    print_headline(exc, f"The TLS certificate of {_host(exc)} could not be verified.")
    err_console().print(f"  {exc}", markup=False, style="dim")
    err_console().print(
        "If your network uses its own certificate authority, point ssl_verify at its CA "
        "bundle (ANACONDA_AUTH_SSL_VERIFY=/path/to/ca.pem), or use the system trust store "
        'with ssl_verify = "truststore".',
        markup=False,
    )
    return 1


def anaconda_auth_error(exc: BaseException) -> int:
    """Every other error of this package: its messages are written for users."""
    print_headline(exc)
    return 1


def builtin_handlers() -> list[ErrorHandler]:
    import requests

    handlers = [
        ErrorHandler(f"login-required:{cls.__name__}", cls, login_required)
        for cls in login_required_texts()
    ]
    handlers += [
        ErrorHandler("anaconda-auth-error", AnacondaAuthError, anaconda_auth_error),
        ErrorHandler("http-error", requests.HTTPError, http_error),
        ErrorHandler("connection-error", requests.ConnectionError, connection_error),
        ErrorHandler("timeout", requests.Timeout, timeout_error),
        ErrorHandler("ssl-error", requests.exceptions.SSLError, ssl_error),
    ]
    return handlers


@hookimpl
def anaconda_auth_error_handlers() -> Iterable[ErrorHandler]:
    return builtin_handlers()
