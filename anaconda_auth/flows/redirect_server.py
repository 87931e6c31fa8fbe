"""The loopback server that receives the browser's redirect at the end of the browser login.

Rules (see docs/dev/decisions/0013):

* it binds the loopback address of ``redirect_uri`` only (``127.0.0.1`` for ``127.0.0.1`` and
  ``localhost``, ``::1`` for ``[::1]``), never ``0.0.0.0``; port ``0`` picks a free port;
* a request to another path gets a 404 and is otherwise ignored (favicons, probes);
* the first request to the callback path decides the flow: with the expected ``state`` its
  ``code`` (or the provider's ``error``) is handed to the waiting flow; with a missing or
  wrong ``state`` it gets an error page and **the flow fails** (a stale tab from an earlier
  login, or a forged request: either way the user must start again, and is told at once
  instead of after the timeout);
* with the right ``state``, an ``iss`` parameter (RFC 9207) must be the discovered issuer, and
  must be there when the provider's metadata says it sends it
  (``authorization_response_iss_parameter_supported``); otherwise the response may come from
  another provider (a mix-up attack): **the flow fails** and the code is never exchanged;
* every later request to the callback path (a replay, a reload) gets an error page and
  changes nothing;
* the accepted browser request is held open until the flow finishes, then redirected to
  ``login_success_url`` or ``login_error_url``, so the page the user sees tells the truth;
* nothing is logged from the request line or the query string (``log_message`` is silenced:
  the query carries the authorization code).
"""

from __future__ import annotations

import errno
import hmac
import html
import logging
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from anaconda_auth.exceptions import AuthenticationError
from anaconda_auth.http.text import printable

log = logging.getLogger(__name__)

#: How long the accepted browser request waits for the flow to finish before it is answered.
HOLD_TIMEOUT = 120.0

_ADDRESS_IN_USE = {errno.EADDRINUSE, 10048}
_ACCESS_DENIED = {errno.EACCES, 10013}


class RedirectServerError(AuthenticationError):
    """The loopback redirect server could not start, or the callback was unusable."""


class RedirectPortInUse(RedirectServerError):
    """The port of ``redirect_uri`` is taken by another program."""


class CallbackTimeout(RedirectServerError):
    """The browser did not come back to the loopback server in time."""


class StateMismatch(RedirectServerError):
    """The callback's ``state`` is missing or not the one this login sent."""


class IssuerMismatch(RedirectServerError):
    """The callback's ``iss`` (RFC 9207) is not the issuer this login was sent to."""


class AuthorizationFailed(AuthenticationError):
    """The identity provider redirected back with an error (e.g. ``access_denied``)."""

    def __init__(self, error: str, description: str | None) -> None:
        error = printable(error)
        description = printable(description) if description else description
        self.error = error
        self.description = description
        if error == "access_denied":
            text = "Login was denied at the identity provider (access_denied"
        else:
            text = f"The identity provider refused the login ({error}"
        text += f": {description})" if description else ")"
        super().__init__(text + ". Nothing was stored.")


@dataclass
class _Callback:
    code: str | None = field(default=None, repr=False)
    error: BaseException | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = sys.platform != "win32"  # on Windows it would allow port stealing
    owner: RedirectServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; the request may hold the code.
        exc = sys.exc_info()[1]
        log.debug("redirect server: request failed (%s)", type(exc).__name__)


class _ServerV6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 15.0  # per-connection socket timeout, so a stuck client cannot hold the server
    server_version = "anaconda-auth"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: the default writes the request line (with the code) to stderr."""

    def do_GET(self) -> None:  # noqa: N802
        self.server.owner._handle(self)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send_page(405, "Method not allowed", "Only GET is accepted here.")

    def do_POST(self) -> None:  # noqa: N802
        self._send_page(405, "Method not allowed", "Only GET is accepted here.")

    def _common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")

    def _send_page(self, status: int, title: str, message: str) -> None:
        body = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            "<p>You can close this tab and return to the terminal.</p></body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        self.wfile.write(body)

    def _send_redirect(self, location: str) -> None:
        body = (
            f"<!doctype html><html><body><a href='{html.escape(location, quote=True)}'>"
            "Continue</a></body></html>"
        ).encode()
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        self.wfile.write(body)


def _bind_address(redirect_uri: str) -> tuple[str, int, str, bool]:
    """(host to bind, port, callback path, IPv6?) of a loopback ``redirect_uri``."""
    parts = urlsplit(redirect_uri)
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
        host = None
    if parts.scheme != "http" or host not in {"127.0.0.1", "localhost", "::1"}:
        raise RedirectServerError(
            f"redirect_uri = {redirect_uri!r} must be a loopback http:// URL such as "
            "http://127.0.0.1:8000/auth/oidc (the login listens on this machine only)."
        )
    ipv6 = host == "::1"
    return ("::1" if ipv6 else "127.0.0.1"), (80 if port is None else port), parts.path or "/", ipv6


class RedirectServer:
    """Listens for the one callback of a browser login; use as a context manager.

    >>> with RedirectServer(uri, state=state, success_url=ok, error_url=err) as server:
    ...     open_browser(url_with(server.redirect_uri))
    ...     code = server.wait_for_code(timeout=300)
    ...     ...  # exchange the code
    ...     server.finish(ok=True)
    """

    def __init__(
        self,
        redirect_uri: str,
        *,
        state: str,
        success_url: str,
        error_url: str,
        issuer: str | None = None,
        require_issuer: bool = False,
    ):
        """``issuer``: check a callback's ``iss`` against it (RFC 9207); ``require_issuer``:
        also refuse a callback without ``iss`` (the provider advertises that it sends one)."""
        self._configured_uri = redirect_uri
        self._host, self._port, self.callback_path, self._ipv6 = _bind_address(redirect_uri)
        self._state = state
        self._issuer = issuer
        self._require_issuer = require_issuer and issuer is not None
        self.success_url = success_url
        self.error_url = error_url
        self._lock = threading.Lock()
        self._decided = False
        self._results: queue.Queue[_Callback] = queue.Queue()
        self._finished = threading.Event()
        self._ok = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RedirectServer({self.redirect_uri!r})"

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server is not None else self._port

    @property
    def redirect_uri(self) -> str:
        """``redirect_uri`` as configured, with the port actually bound when it was 0."""
        if self._port != 0 or self._server is None:
            return self._configured_uri
        parts = urlsplit(self._configured_uri)
        host = parts.hostname or "127.0.0.1"
        netloc = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def start(self) -> RedirectServer:
        cls = _ServerV6 if self._ipv6 else _Server
        try:
            server = cls((self._host, self._port), _Handler)
        except OSError as exc:
            shown = f"[{self._host}]" if self._ipv6 else self._host
            if exc.errno in _ADDRESS_IN_USE:
                raise RedirectPortInUse(
                    f"Cannot receive the login: port {self._port} on {shown} is in use by "
                    "another program; close it or set redirect_uri to another port (e.g. "
                    f"ANACONDA_AUTH_REDIRECT_URI=http://127.0.0.1:{self._port + 1}"
                    f"{self.callback_path}), or log in with the device flow "
                    "(use_device_flow = true)."
                ) from None
            if exc.errno in _ACCESS_DENIED:
                raise RedirectServerError(
                    f"Cannot receive the login: not allowed to listen on port {self._port} on "
                    f"{shown}; set redirect_uri to a port above 1023."
                ) from None
            raise RedirectServerError(
                f"Cannot receive the login: listening on {shown}:{self._port} failed "
                f"({exc.strerror or exc})."
            ) from None
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="anaconda-auth-redirect-server",
            daemon=True,
        )
        self._thread.start()
        log.debug("redirect server listening on %s", self.redirect_uri)
        return self

    def __enter__(self) -> RedirectServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Answer a held browser request (error page unless :meth:`finish` said ok), stop."""
        self._finished.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.debug("redirect server stopped")

    def wait_for_code(self, timeout: float) -> str:
        """Block until the callback arrives; its code, or the error it carried."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallbackTimeout(
                    f"Timed out after {timeout:g} s waiting for the browser to return to "
                    f"{self.redirect_uri}. Nothing was stored; run the login again (or use "
                    "the device flow on a machine without a browser)."
                )
            try:
                result = self._results.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue
            if result.error is not None:
                raise result.error
            assert result.code is not None
            return result.code

    def finish(self, *, ok: bool) -> None:
        """Release the held browser request: redirect to the success or the error page."""
        self._ok = ok
        self._finished.set()

    # -- request handling (server threads) --------------------------------------------------

    def _issuer_mismatch(self, values: list[str]) -> IssuerMismatch | None:
        """RFC 9207 §2.4: ``iss``, when present or promised, must be the expected issuer."""
        if self._issuer is None or (not values and not self._require_issuer):
            return None
        if len(values) == 1 and values[0] == self._issuer:
            return None
        if not values:
            got = "no iss parameter, although the provider promises one"
        elif len(values) > 1:
            got = "more than one iss parameter"
        else:
            shown = values[0] if len(values[0]) <= 200 else values[0][:200] + "..."
            got = f"iss = {shown!r}"
        return IssuerMismatch(
            f"The login response came back with {got}; this login was sent to the identity "
            f"provider {self._issuer} (RFC 9207), so the response may come from another "
            "provider. It was rejected and nothing was stored; run the login again."
        )

    def _handle(self, request: _Handler) -> None:
        parts = urlsplit(request.path)
        if parts.path != self.callback_path:
            request._send_page(404, "Not found", "This is the anaconda-auth login callback.")
            return
        params = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            if self._decided:
                log.debug("redirect server: rejected a second callback request")
                request._send_page(
                    400,
                    "Login link already used",
                    "This login callback was already received; it cannot be used again. "
                    "If the login failed, start it again from the terminal.",
                )
                return
            self._decided = True
            states = params.get("state", [])
            if len(states) != 1 or not hmac.compare_digest(
                states[0].encode(), self._state.encode()
            ):
                log.debug("redirect server: callback with a missing or wrong state")
                self._results.put(
                    _Callback(
                        error=StateMismatch(
                            "The login callback did not carry the state this login sent "
                            "(it may come from an older login tab, or from another site). "
                            "It was rejected and nothing was stored; run the login again."
                        )
                    )
                )
                request._send_page(
                    400,
                    "Login failed",
                    "This login response does not belong to the login running in your "
                    "terminal, so it was rejected. Start the login again.",
                )
                return
            mismatch = self._issuer_mismatch(params.get("iss", []))
            if mismatch is not None:
                log.debug("redirect server: callback from another issuer")
                self._results.put(_Callback(error=mismatch))
                request._send_redirect(self.error_url)
                return
            errors = params.get("error", [])
            codes = params.get("code", [])
            if errors:
                description = params.get("error_description", [None])[0]
                self._results.put(_Callback(error=AuthorizationFailed(errors[0], description)))
                request._send_redirect(self.error_url)
                return
            if len(codes) != 1 or not codes[0]:
                self._results.put(
                    _Callback(
                        error=RedirectServerError(
                            "The login callback carried no authorization code; nothing was "
                            "stored. Run the login again."
                        )
                    )
                )
                request._send_redirect(self.error_url)
                return
            log.debug("redirect server: callback accepted")
            self._results.put(_Callback(code=codes[0]))
        # Hold the browser until the flow has its API key (or failed).
        self._finished.wait(HOLD_TIMEOUT)
        request._send_redirect(self.success_url if self._ok else self.error_url)
