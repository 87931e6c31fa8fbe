"""The browser login: OAuth 2 authorization code with PKCE (RFC 7636) and a loopback redirect.

1. make a PKCE verifier (``secrets.token_urlsafe``), its S256 challenge and a random ``state``;
2. start the loopback :class:`~anaconda_auth.flows.redirect_server.RedirectServer` on
   ``redirect_uri``;
3. show the authorize URL through the ``LoginUI`` and open it in a browser (``$BROWSER`` is
   honoured, read when the login runs);
4. wait for the callback, exchange the code at the token endpoint, hand the tokens to the
   caller's ``complete`` function (which mints and stores the API key) while the browser
   waits, then send the browser to the success or the error page.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import shlex
import subprocess
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

from anaconda_auth.flows.redirect_server import RedirectServer
from anaconda_auth.flows.tokens import SCOPE, TokenSet, token_request
from anaconda_auth.http import session as _http

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.flows.discovery import OpenIDConfiguration
    from anaconda_auth.flows.ui import LoginUI

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for the browser to come back (``ANACONDA_AUTH_LOGIN_TIMEOUT``).
DEFAULT_LOGIN_TIMEOUT = 300.0


def login_timeout(config: AnacondaAuthSite | None = None) -> float:
    return _http.float_setting("login_timeout", DEFAULT_LOGIN_TIMEOUT, config)


@dataclass(frozen=True)
class PKCE:
    """A code verifier and its S256 challenge; the verifier never shows in ``repr``."""

    verifier: str = field(repr=False)
    challenge: str

    @classmethod
    def new(cls) -> PKCE:
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier=verifier, challenge=challenge)


def authorize_url(
    endpoint: str, *, client_id: str, redirect_uri: str, state: str, challenge: str
) -> str:
    query = urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


# -- opening a browser ----------------------------------------------------------------------


def _browser_env_commands(url: str) -> list[list[str]]:
    """The ``$BROWSER`` commands (``os.pathsep``-separated; ``%s`` is the URL), read now.

    Python's :mod:`webbrowser` reads ``$BROWSER`` once per process; reading it per login keeps
    a changed environment (tests, long-lived notebooks) effective.
    """
    commands = []
    for entry in os.environ.get("BROWSER", "").split(os.pathsep):
        entry = entry.strip()
        if not entry:
            continue
        if "%s" in entry:
            try:
                words = shlex.split(entry)
            except ValueError as exc:
                log.warning("ignoring the $BROWSER entry %r: %s; open the URL by hand", entry, exc)
                continue
            commands.append([arg.replace("%s", url) for arg in words])
        else:
            commands.append([entry, url])
    return commands


def _open(url: str) -> bool:
    """Open ``url``; whether a browser (or a ``$BROWSER`` command) took it."""
    commands = _browser_env_commands(url)
    if not commands and os.environ.get("BROWSER", "").strip():
        return False  # every $BROWSER entry was unusable (already logged); the URL is printed
    if not commands:
        try:
            opened = webbrowser.open(url)
        except Exception as exc:  # noqa: BLE001 - any failure means: no browser here
            log.debug("opening a web browser failed: %s", exc)
            opened = False
        if not opened:
            log.debug("no web browser could be opened")
        return bool(opened)
    for command in commands:
        try:
            # Waits for the command (a terminal browser runs until closed), in this thread.
            if subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode == 0:
                return True
        except OSError as exc:
            log.debug("$BROWSER entry %s failed: %s", command[0], exc.strerror or exc)
    log.debug("no $BROWSER entry succeeded")
    return False


class BrowserThread(threading.Thread):
    """The thread opening the browser; ``opened`` is ``None`` until it knows."""

    opened: bool | None = None

    def __init__(self, url: str) -> None:
        super().__init__(name="anaconda-auth-browser", daemon=True)
        self.url = url

    def run(self) -> None:
        self.opened = _open(self.url)


def open_browser(url: str) -> threading.Thread:
    """Open ``url`` in a browser from a background thread; never blocks the login.

    A ``$BROWSER`` command that waits (lynx, a test script) must not stop the login from
    receiving the callback the browser is about to send. The thread's ``opened`` says, once
    it is known, whether a browser took the URL.
    """
    thread = BrowserThread(url)
    thread.start()
    return thread


#: How long the login waits to learn whether the browser opened (a $BROWSER command that
#: keeps running, a terminal browser, counts as opened).
BROWSER_CHECK_SECONDS = 0.5


def _browser_failed(handle: object) -> bool:
    if not isinstance(handle, BrowserThread):
        return False
    handle.join(BROWSER_CHECK_SECONDS)
    return handle.opened is False


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} s"


def browser_available() -> tuple[bool, str]:
    """Whether a browser can be opened here, and if not, why (to choose the device flow)."""
    if os.environ.get("BROWSER", "").strip():
        return True, "$BROWSER is set"
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False, "this is an SSH session and $BROWSER is not set"
    import sys

    if (
        sys.platform not in ("darwin", "win32", "cygwin")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        return False, "no graphical display (DISPLAY/WAYLAND_DISPLAY unset) and no $BROWSER"
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False, "no web browser is installed"
    return True, "a web browser is available"


# -- the flow -------------------------------------------------------------------------------


def _say_no_browser(ui: LoginUI, url: str) -> None:
    """No browser took the URL: say so at once, with the URL to open by hand."""
    show = getattr(ui, "show_no_browser", None)
    if callable(show):
        show(url)
        return
    import sys

    print(
        "No web browser could be opened here. Open this URL in a browser (on this machine, "
        f"so that it can reach the login's local address):\n  {url}\n"
        "(Or log in with `anaconda auth login --device` to use a browser on another device.)",
        file=sys.stderr,
    )


def run(
    config: AnacondaAuthSite,
    provider: OpenIDConfiguration,
    session: _http.LoginSession,
    ui: LoginUI,
    complete: Callable[[TokenSet], T],
    *,
    timeout: float | None = None,
    open_url: Callable[[str], object] = open_browser,
) -> T:
    """Run the browser login; ``complete(tokens)`` runs before the browser gets its answer.

    Raises :class:`~anaconda_auth.exceptions.AuthenticationError` subclasses: the redirect
    server's errors (port in use, timeout, state or RFC 9207 issuer mismatch),
    ``AuthorizationFailed`` (the provider's ``error``, e.g. ``access_denied``), ``OAuthError``
    (code exchange rejected), ``ProviderError`` (transport/HTTP), and whatever ``complete``
    raises.
    """
    timeout = login_timeout(config) if timeout is None else timeout
    pkce = PKCE.new()
    state = secrets.token_urlsafe(32)
    server = RedirectServer(
        config.redirect_uri,
        state=state,
        success_url=config.login_success_url,
        error_url=config.login_error_url,
        issuer=provider.issuer,
        require_issuer=provider.authorization_response_iss_parameter_supported,
    )
    with server:
        redirect_uri = server.redirect_uri
        url = authorize_url(
            provider.authorization_endpoint,
            client_id=config.client_id,
            redirect_uri=redirect_uri,
            state=state,
            challenge=pkce.challenge,
        )
        ui.show_authorize_url(url)
        if _browser_failed(open_url(url)):
            _say_no_browser(ui, url)
        with ui.waiting(
            f"Waiting up to {_duration(timeout)} for you to finish logging in in the browser "
            "(Ctrl-C to cancel)..."
        ):
            code = server.wait_for_code(timeout)
            _http.drop_idle_connections(session)  # idle while the user was in the browser
            log.debug("exchanging the authorization code at %s", provider.token_endpoint)
            tokens = token_request(
                session,
                provider,
                {
                    "grant_type": "authorization_code",
                    "client_id": config.client_id,
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": pkce.verifier,
                },
                what="Exchanging the authorization code",
            )
            del code
            result = complete(tokens)
        server.finish(ok=True)
    return result
