"""The HTTP session the login flows use, built from a site's config.

One place decides TLS verification, proxies, the client certificate, the User-Agent and the
timeouts for every request the login makes (discovery, token endpoint, device authorization,
API-key minting, userinfo), and turns transport failures into errors that name the URL and
the remedy. Secrets never pass through the messages built here: none of the URLs requested
carries one, and response bodies are only quoted through :func:`error_detail`, which keeps
the OAuth ``error`` fields and nothing else.

Two ``requests`` defaults are changed on purpose:

* an explicit ``ssl_verify`` (a CA path, ``False`` or ``"truststore"``) and explicit
  ``proxy_servers`` win over ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` / ``HTTPS_PROXY``
  (plain ``requests`` lets the environment override the session);
* ``~/.netrc`` is never consulted: it would replace the ``Authorization`` header of the
  API-key request and add credentials nobody asked for to the OAuth calls.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from anaconda_auth._version import __version__
from anaconda_auth.exceptions import AuthenticationError, ConfigError
from anaconda_auth.http.auth import NoAuth
from anaconda_auth.http.deadline import Deadline, DeadlineAdapter, ReplyTooLarge, read_capped
from anaconda_auth.http.text import printable
from anaconda_auth.http.tls import configure_session

if TYPE_CHECKING:
    from requests.sessions import _Settings

    from anaconda_auth.config import AnacondaAuthSite

log = logging.getLogger(__name__)

USER_AGENT = f"anaconda-auth/{__version__}"

#: Seconds a login request may take in all (connecting, sending, every read of the reply).
DEFAULT_HTTP_TIMEOUT = 30.0
#: The largest reply a login request reads (discovery documents and token replies are a few KiB).
MAX_REPLY_BYTES = 1024 * 1024
HTTP_TIMEOUT_ENV = "ANACONDA_AUTH_HTTP_TIMEOUT"

SSL_VERIFY_HINT = (
    "If your network uses a TLS-inspecting proxy or a private certificate authority, point "
    "ssl_verify at its CA bundle (ANACONDA_AUTH_SSL_VERIFY=/path/to/ca.pem, or ssl_verify in "
    'the [plugin.auth] table of ~/.anaconda/config.toml), or set ssl_verify = "truststore" '
    "to use the operating system's certificate store."
)


class ProviderError(AuthenticationError):
    """A request of the login failed: unreachable, timed out, an HTTP error or a bad reply."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class TLSError(ProviderError):
    """The TLS connection failed, usually because the server's certificate is not trusted."""


def float_setting(name: str, default: float, config: AnacondaAuthSite | None = None) -> float:
    """A positive number of seconds from the config field ``name`` or ``ANACONDA_AUTH_<NAME>``."""
    raw: Any = getattr(config, name, None) if config is not None else None
    where = f"{name} in config"
    if raw is None:
        env = f"ANACONDA_AUTH_{name.upper()}"
        raw = os.environ.get(env)
        where = env
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} = {raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{where} = {raw!r} must be a positive number of seconds")
    return value


def http_timeout(config: AnacondaAuthSite | None = None) -> float:
    """Seconds each login request may take in all (``ANACONDA_AUTH_HTTP_TIMEOUT``); for
    ``BaseClient``, the connect and the read timeout of each request."""
    return float_setting("http_timeout", DEFAULT_HTTP_TIMEOUT, config)


class LoginSession(requests.Session):
    """A ``requests.Session`` whose explicit settings are not overridden by the environment."""

    timeout: float = DEFAULT_HTTP_TIMEOUT
    _pin_verify: bool = False

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        if self.proxies:
            proxies = {**self.proxies, **(proxies or {})}
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # send() passes the session's own verify when none was given: that is pinned too.
        if self._pin_verify and (verify is None or verify is self.verify):
            settings["verify"] = self.verify
        return settings

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        # Drop the Authorization header on a redirect to another host, like requests does,
        # but never pick up credentials from ~/.netrc.
        headers = prepared_request.headers
        url = prepared_request.url
        if (
            "Authorization" in headers
            and url is not None
            and self.should_strip_auth(response.request.url, url)  # type: ignore[no-untyped-call]
        ):
            del headers["Authorization"]


def make_session(config: AnacondaAuthSite) -> LoginSession:
    """A session with the config's ``ssl_verify``, proxies, client certificate and timeouts."""
    session = LoginSession()
    session.timeout = http_timeout(config)
    session.auth = NoAuth()
    headers = dict(config.oidc_request_headers or {})
    headers["User-Agent"] = USER_AGENT
    session.headers.update(headers)

    session._pin_verify = configure_session(session, config)
    for prefix, adapter in list(session.adapters.items()):
        # connections a request's total deadline can cut off (see anaconda_auth.http.deadline)
        session.mount(prefix, DeadlineAdapter(getattr(adapter, "ssl_context", None)))
    if config.proxy_servers:
        session.proxies.update(config.proxy_servers)
    return session


def drop_idle_connections(session: requests.Session) -> None:
    """Close the session's pooled connections; the next request opens a fresh one.

    Called before a request that follows a wait (the device flow's poll interval, the user in
    the browser): a server closes an idle keep-alive connection when its own timeout runs out
    (Node.js: 5 s + 1 s, nginx: 75 s, load balancers: 60 s), and a request sent on it at that
    moment fails with a reset or a TLS EOF. The login's requests are POSTs, which an HTTP
    client must not retry on its own (RFC 9112 §9.3.1), so the connection is not reused.
    """
    for adapter in session.adapters.values():
        adapter.close()


def _nested(exc: BaseException, *, linked: bool) -> Iterator[BaseException]:
    """``exc`` and the exceptions wrapped in it (``args``, urllib3's ``reason`` and, when
    ``linked``, ``__cause__`` / ``__context__``), each once, depth first."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        if linked:
            stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _ssl_reason(exc: BaseException) -> tuple[str, bool]:
    """The innermost TLS error message, and whether it is a certificate verification failure."""
    best: tuple[str, bool] | None = None
    for current in _nested(exc, linked=True):
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current), True
        if isinstance(current, ssl.SSLError) and best is None:
            best = (current.reason or str(current), False)
    if best is not None:
        return best
    text = str(exc)
    return text, "CERTIFICATE_VERIFY_FAILED" in text


def _connection_reason(exc: BaseException) -> str:
    for current in _nested(exc, linked=False):
        if isinstance(current, OSError) and not isinstance(current, requests.RequestException):
            return current.strerror or str(current)
    return type(exc).__name__


def _send(
    session: LoginSession, method: str, url: str, *, what: str, max_bytes: int, **kwargs: Any
) -> requests.Response:
    kwargs.setdefault("timeout", session.timeout)
    kwargs.setdefault("verify", session.verify)
    kwargs.setdefault("allow_redirects", method.upper() == "GET")
    total = kwargs["timeout"] if isinstance(kwargs["timeout"], (int, float)) else session.timeout
    log.debug("%s: %s %s", what, method, url)
    deadline = Deadline(float(total))
    try:
        with deadline:
            response = session.request(method, url, stream=True, **kwargs)
            read_capped(response, max_bytes)
    except ReplyTooLarge:
        raise ProviderError(
            f"{what} failed: the reply of {url} is larger than {max_bytes // 1024} KiB, far "
            "more than this request ever needs; it was not read. Check that the domain in your "
            "config is an Anaconda site.",
            url=url,
        ) from None
    except requests.RequestException:
        if not deadline.expired:
            raise
        raise ProviderError(
            f"{what} failed: no response from {url} within {total:g} s (no complete reply: each "
            "login request must end within that time). The service may be slow or "
            f"unreachable; try again later (or raise {HTTP_TIMEOUT_ENV}).",
            url=url,
        ) from None
    return response


def send(
    session: LoginSession,
    method: str,
    url: str,
    *,
    what: str,
    max_bytes: int = MAX_REPLY_BYTES,
    **kwargs: Any,
) -> requests.Response:
    """Make a request; transport failures become :class:`ProviderError` naming ``url``.

    ``what`` says what the request is for ("OpenID discovery", "the token request", ...).
    Redirects are followed for GET only. ``verify`` is the session's resolved TLS setting
    unless given (passed explicitly, as 0.15 did). The whole request, reply included, must
    end within ``timeout`` (default: the session's ``http_timeout``), and a reply longer than
    ``max_bytes`` is refused unread.
    """
    kwargs.setdefault("timeout", session.timeout)
    try:
        response = _send(session, method, url, what=what, max_bytes=max_bytes, **kwargs)
    except requests.exceptions.SSLError as exc:
        reason, verification = _ssl_reason(exc)
        if verification:
            raise TLSError(
                f"{what} failed: the TLS certificate of {url} could not be verified "
                f"({reason}). {SSL_VERIFY_HINT}",
                url=url,
            ) from None
        raise TLSError(f"{what} failed: TLS error talking to {url} ({reason}).", url=url) from None
    except requests.exceptions.Timeout:
        raise ProviderError(
            f"{what} failed: no response from {url} within {_seconds(kwargs)} s. The service "
            f"may be down or unreachable; try again later (or raise {HTTP_TIMEOUT_ENV}).",
            url=url,
        ) from None
    except requests.exceptions.ProxyError as exc:
        raise ProviderError(
            f"{what} failed: the proxy refused or dropped the connection to {url} "
            f"({_connection_reason(exc)}). Check proxy_servers and HTTPS_PROXY.",
            url=url,
        ) from None
    except requests.exceptions.ConnectionError as exc:
        host = urlsplit(url).netloc
        raise ProviderError(
            f"{what} failed: could not connect to {host} ({_connection_reason(exc)}). "
            "Check your network connection, the domain in your config and your proxy settings.",
            url=url,
        ) from None
    except requests.RequestException as exc:
        raise ProviderError(f"{what} failed: {type(exc).__name__} for {url}", url=url) from None
    log.debug("%s: HTTP %s", what, response.status_code)
    return response


def _seconds(kwargs: dict[str, Any]) -> str:
    timeout = kwargs.get("timeout")
    return f"{timeout:g}" if isinstance(timeout, (int, float)) else str(timeout)


_DETAIL_FIELDS = ("error", "error_description", "message", "detail", "code")


def error_detail(response: requests.Response, limit: int = 300) -> str:
    """A short, safe description of an error response: the OAuth/API error fields only.

    The raw body is never quoted: a misbehaving server could put a token in it.
    """
    try:
        data = response.json()
    except ValueError:
        return ""
    parts: list[str] = []
    if isinstance(data, Mapping):
        inner = data.get("error")
        if isinstance(inner, Mapping):  # {"error": {"code": ..., "message": ...}}
            data = {**data, **inner, "error": inner.get("code")}
        for key in _DETAIL_FIELDS:
            value = data.get(key)
            if isinstance(value, str) and value:
                value = printable(value)
                if value and value not in parts:
                    parts.append(value)
    text = ": ".join(parts)
    return text[:limit] + ("..." if len(text) > limit else "")


def json_object(response: requests.Response, *, what: str) -> dict[str, Any]:
    """The JSON object of a response, or :class:`ProviderError` saying the reply was not one."""
    try:
        data = response.json()
    except ValueError:
        ctype = response.headers.get("Content-Type", "no content type")
        raise ProviderError(
            f"{what} failed: {response.url} did not return valid JSON (HTTP "
            f"{response.status_code}, {ctype}). Check that the domain in your config is an "
            "Anaconda site.",
            url=response.url,
            status=response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise ProviderError(
            f"{what} failed: {response.url} returned JSON that is not an object.",
            url=response.url,
            status=response.status_code,
        )
    return data


def status_error(response: requests.Response, *, what: str) -> ProviderError:
    """A :class:`ProviderError` for an unexpected HTTP status, with the safe error detail."""
    status = response.status_code
    reason = response.reason or ""
    detail = error_detail(response)
    hint = ""
    if status >= 500:
        hint = " The service has a problem; try again in a few minutes."
    message = f"{what} failed: {response.url} returned HTTP {status} {reason}".rstrip()
    if detail:
        message += f" ({detail})"
    return ProviderError(message + "." + hint, url=response.url, status=status)
