"""The loopback callback of the browser login under its anaconda-auth 0.15 module name.

0.15 exported ``AuthCodeRedirectServer`` (an ``HTTPServer`` that records the one redirect),
``capture_auth_code(redirect_uri, state, config=None)`` and ``shutdown_all_servers()``. They
work here on the rules of :mod:`anaconda_auth.flows.redirect_server`:

* the server listens on a loopback address only (``127.0.0.1``, ``localhost`` or ``::1``;
  anything else is refused with :class:`RedirectServerError` instead of being bound);
* ``capture_auth_code`` runs our :class:`~anaconda_auth.flows.redirect_server.RedirectServer`:
  a missing or wrong ``state`` fails the login at once, and it gives up after the login
  timeout (``ANACONDA_AUTH_LOGIN_TIMEOUT``, 300 s) instead of waiting forever;
* nothing from the request line (it carries the code) is logged.
"""

from __future__ import annotations

import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field

from anaconda_auth.config.model import AnacondaAuthConfig, AnacondaAuthSite
from anaconda_auth.exceptions import AuthenticationError
from anaconda_auth.flows.browser import login_timeout
from anaconda_auth.flows.redirect_server import (
    CallbackTimeout,
    RedirectServer,
    RedirectServerError,
)

__all__ = [
    "AuthCodeRedirectRequestHandler",
    "AuthCodeRedirectServer",
    "Result",
    "capture_auth_code",
    "shutdown_all_servers",
]

log = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}
_POLL = 0.25


class Result(BaseModel):
    """What the redirect carried (0.15's model); the code never shows in ``repr``."""

    auth_code: str = Field(default="", repr=False)
    state: str = Field(default="", repr=False)
    scopes: list[str] = []


def _loopback_host(host: str) -> str:
    bound = _LOOPBACK.get(host.strip("[]"))
    if bound is None:
        raise RedirectServerError(
            f"The login callback listens on this machine only; {host!r} is not a loopback "
            "address (use 127.0.0.1, localhost or ::1)."
        )
    return bound


class AuthCodeRedirectServer(HTTPServer):
    """0.15's one-shot callback server: ``handle_request()`` records the redirect in ``result``.

    Only loopback addresses can be bound. Use it as a context manager so that
    :func:`shutdown_all_servers` can cancel it from another thread.
    """

    _open_servers: ClassVar[set[AuthCodeRedirectServer]] = set()

    def __init__(
        self,
        oidc_path: str,
        server_address: tuple[str, int],
        config: AnacondaAuthSite | None = None,
    ):
        host = _loopback_host(str(server_address[0]))
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, int(server_address[1])), AuthCodeRedirectRequestHandler)
        self.result: Result | None = None
        self.host_name = host
        self.oidc_path = oidc_path
        self.config = config or AnacondaAuthConfig()

    def __enter__(self) -> AuthCodeRedirectServer:
        self._open_servers.add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open_servers.discard(self)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("redirect server: request failed")


class AuthCodeRedirectRequestHandler(BaseHTTPRequestHandler):
    """Answers the callback path with a redirect to the success or the error page; 404 else."""

    server: AuthCodeRedirectServer
    timeout = 15.0

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: the request line carries the authorization code."""

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path != self.server.oidc_path:
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        params = parse_qs(parts.query)
        if "code" in params and "state" in params:
            self.server.result = Result(
                auth_code=params["code"][0],
                state=params["state"][0],
                scopes=params.get("scope", []),
            )
            location = self.server.config.login_success_url
        else:
            location = self.server.config.login_error_url
        self.send_response(HTTPStatus.TEMPORARY_REDIRECT)
        self.send_header("Location", location)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()


_cancel_lock = threading.Lock()
_cancel_events: set[threading.Event] = set()


def capture_auth_code(redirect_uri: str, state: str, config: AnacondaAuthSite | None = None) -> str:
    """Listen on ``redirect_uri`` for the browser's redirect; its authorization code.

    Raises :class:`~anaconda_auth.exceptions.AuthenticationError`: ``"State does not match"``
    for a callback with another state, a timeout after the login timeout,
    ``"Could not complete authentication"`` when :func:`shutdown_all_servers` cancelled it,
    or the provider's ``error``.
    """
    config = config or AnacondaAuthConfig()
    timeout = login_timeout(config)
    cancelled = threading.Event()
    with _cancel_lock:
        _cancel_events.add(cancelled)
    try:
        with RedirectServer(
            redirect_uri,
            state=state,
            success_url=config.login_success_url,
            error_url=config.login_error_url,
        ) as server:
            log.debug("listening on %s", server.redirect_uri)
            waited = 0.0
            while True:
                if cancelled.is_set():
                    raise AuthenticationError("Could not complete authentication")
                try:
                    code = server.wait_for_code(_POLL)
                except CallbackTimeout:
                    waited += _POLL
                    if waited >= timeout:
                        raise CallbackTimeout(
                            f"Timed out after {timeout:g} s waiting for the browser to return "
                            f"to {redirect_uri}. Nothing was stored; run the login again."
                        ) from None
                    continue
                server.finish(ok=True)
                return code
    finally:
        with _cancel_lock:
            _cancel_events.discard(cancelled)


def shutdown_all_servers() -> None:
    """Cancel every waiting callback server (call it from another thread than the login)."""
    with _cancel_lock:
        for event in _cancel_events:
            event.set()
    for server in list(AuthCodeRedirectServer._open_servers):
        # handle_request() blocks in accept(): one request to another path releases it.
        host = f"[{server.host_name}]" if ":" in server.host_name else server.host_name
        try:
            with socket.create_connection((server.host_name, server.server_port), timeout=2) as s:
                s.sendall(f"GET /cancel HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                s.recv(64)
        except OSError as exc:
            log.debug("could not reach a redirect server to cancel it: %s", exc)
