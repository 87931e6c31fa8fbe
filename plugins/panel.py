"""Log the users of a Panel app in with Anaconda.

``panel serve app.py --oauth-provider anaconda_auth --oauth-key ID --oauth-secret SECRET
--cookie-secret ...`` finds :class:`AnacondaLoginHandler` through the ``panel.auth`` entry point.

The endpoints (authorize, token, userinfo, end session) come from the OpenID discovery document
of the configured auth domain (``AnacondaAuthConfig``: ``domain``, ``auth_domain_override``,
``openid_config_path``), and every server-side call to the provider (discovery, code exchange,
refresh, userinfo) verifies TLS as ``ssl_verify`` says (a CA bundle path, ``False``,
``"truststore"`` or the system store) and presents ``client_cert`` when configured.

Import order: Panel imports every ``panel.auth`` entry point while ``panel.auth`` itself is
still being imported, without an error guard. So this module imports nothing from Panel at
import time; the handler class is built on first attribute access (module ``__getattr__``,
PEP 562) from ``panel.auth``'s base classes, which exist by the time Panel loads its entry points.
Whichever module is imported first, both end up with one and the same class.

Also here: :func:`logout_url` (the provider's end-session URL, for a "Sign out" link in an app)
and :func:`discover` / :func:`discover_sync` (the provider's endpoints).
"""

from __future__ import annotations

import json
import re
import ssl
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from anaconda_auth.flows.discovery import DiscoveryError, OpenIDConfiguration
from anaconda_auth.http.session import http_timeout
from anaconda_auth.http.tls import ssl_context, tls_key

if TYPE_CHECKING:
    from panel.auth import GenericLoginHandler
    from tornado.httpclient import AsyncHTTPClient
    from tornado.ioloop import IOLoop

    from anaconda_auth.config import AnacondaAuthConfig

    class AnacondaLoginHandler(GenericLoginHandler):
        """Typing view of the handler built lazily by :func:`_build_handler_class`."""

        def anaconda_config(self) -> AnacondaAuthConfig: ...


__all__ = [
    "AnacondaLoginHandler",
    "DiscoveryError",
    "OIDCEndpoints",
    "discover",
    "discover_sync",
    "logout_url",
]

#: Scopes requested from the provider (``offline_access`` for refresh tokens).
SCOPES = ["openid", "email", "profile", "offline_access"]

#: How long a discovery document is reused before it is fetched again (seconds).
DISCOVERY_TTL = 3600.0

#: ``--oauth-extra-params`` key understood for compatibility with anaconda-auth 0.x, where it
#: set the domain of the OAuth endpoints; here it is an ``auth_domain_override``.
_COMPAT_AUTH_DOMAIN_PARAM = "auth-domain"

#: An authorization code in a request URI, also inside Panel's URL-encoded ``next`` argument.
_CODE_IN_URI = re.compile(
    r"((?:[?&]|%3F|%26|%253F|%2526)code(?:=|%3D|%253D))[A-Za-z0-9._~\-]+", re.IGNORECASE
)


def redact_uri(uri: str) -> str:
    """``uri`` with any authorization code replaced, for logs."""
    return _CODE_IN_URI.sub(r"\1[redacted]", uri)


@dataclass(frozen=True)
class OIDCEndpoints:
    """The endpoints Panel's login uses, from the provider's discovery document.

    The document is checked by the core's :class:`OpenIDConfiguration` (one set of rules for
    acceptable endpoints, one :class:`DiscoveryError`); this keeps the five values Panel needs.
    """

    issuer: str | None
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None

    @classmethod
    def from_document(cls, document: Any, source: str) -> OIDCEndpoints:
        found = OpenIDConfiguration.from_document(document, source)
        return cls(
            issuer=found.issuer,
            authorization_endpoint=found.authorization_endpoint,
            token_endpoint=found.token_endpoint,
            userinfo_endpoint=found.userinfo_endpoint,
            end_session_endpoint=found.end_session_endpoint,
        )


# --------------------------------------------------------------------------------------------
# TLS and HTTP


def request_timeout(config: AnacondaAuthConfig) -> float:
    """Connect and read timeout of each call to the provider: the core's ``http_timeout``
    (``ANACONDA_AUTH_HTTP_TIMEOUT``), so the login flows and Panel agree."""
    return http_timeout(config)


_clients: weakref.WeakKeyDictionary[IOLoop, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def http_client(config: AnacondaAuthConfig) -> AsyncHTTPClient:
    """A Tornado HTTP client (one per event loop and TLS setting) that verifies as configured.

    Panel makes its token and userinfo requests with ``get_auth_http_client()``; the TLS
    context is passed as the client's default ``ssl_options``, so every request it makes
    through this client uses it. The simple (pure Python) client is used on purpose: it is
    the one that honours ``ssl_options``.
    """
    from tornado.ioloop import IOLoop
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    loop = IOLoop.current()
    per_loop = _clients.setdefault(loop, {})
    timeout = request_timeout(config)
    key = (*tls_key(config), timeout)
    client = per_loop.get(key)
    if client is None:
        client = SimpleAsyncHTTPClient(
            force_instance=True,
            defaults={
                "ssl_options": ssl_context(config),
                "connect_timeout": timeout,
                "request_timeout": timeout,
            },
        )
        per_loop[key] = client
    return client


# --------------------------------------------------------------------------------------------
# Discovery

_discovered: dict[tuple[str, tuple[str, str | None, str | None]], tuple[float, OIDCEndpoints]] = {}


def _cache_key(config: AnacondaAuthConfig) -> tuple[str, tuple[str, str | None, str | None]]:
    return (config.well_known_url, tls_key(config))


def _cached(config: AnacondaAuthConfig) -> OIDCEndpoints | None:
    entry = _discovered.get(_cache_key(config))
    if entry is None or time.monotonic() - entry[0] > DISCOVERY_TTL:
        return None
    return entry[1]


def _store(config: AnacondaAuthConfig, endpoints: OIDCEndpoints) -> OIDCEndpoints:
    _discovered[_cache_key(config)] = (time.monotonic(), endpoints)
    return endpoints


def _parse(body: bytes, url: str) -> OIDCEndpoints:
    try:
        document = json.loads(body)
    except ValueError:
        raise DiscoveryError(f"{url} did not return JSON") from None
    return OIDCEndpoints.from_document(document, url)


async def discover(config: AnacondaAuthConfig) -> OIDCEndpoints:
    """The provider's endpoints, from its discovery document (cached for ``DISCOVERY_TTL``)."""
    cached = _cached(config)
    if cached is not None:
        return cached
    from tornado.httpclient import HTTPClientError

    url = config.well_known_url
    try:
        response = await http_client(config).fetch(
            url, headers={"Accept": "application/json", **config.oidc_request_headers}
        )
    except HTTPClientError as exc:
        raise DiscoveryError(f"GET {url} failed: HTTP {exc.code}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DiscoveryError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
    return _store(config, _parse(response.body, url))


def discover_sync(config: AnacondaAuthConfig) -> OIDCEndpoints:
    """Blocking variant of :func:`discover` (same cache, same TLS settings)."""
    cached = _cached(config)
    if cached is not None:
        return cached
    import urllib.error
    import urllib.request

    url = config.well_known_url
    request = urllib.request.Request(  # noqa: S310 - always an https URL
        url, headers={"Accept": "application/json", **config.oidc_request_headers}
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=request_timeout(config), context=ssl_context(config)
        ) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise DiscoveryError(f"GET {url} failed: HTTP {exc.code}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DiscoveryError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
    return _store(config, _parse(body, url))


def _end_session_url(
    endpoints: OIDCEndpoints, client_id: str | None, post_logout_redirect_uri: str | None
) -> str | None:
    if not endpoints.end_session_endpoint:
        return None
    params = {}
    if client_id:
        params["client_id"] = client_id
    if post_logout_redirect_uri:
        params["post_logout_redirect_uri"] = post_logout_redirect_uri
    if not params:
        return endpoints.end_session_endpoint
    separator = "&" if "?" in endpoints.end_session_endpoint else "?"
    return f"{endpoints.end_session_endpoint}{separator}{urlencode(params)}"


def _panel_config_overrides() -> dict[str, Any]:
    panel_config_module = sys.modules.get("panel.config")
    if panel_config_module is None:
        return {}
    extra = getattr(panel_config_module.config, "oauth_extra_params", None) or {}
    domain = extra.get(_COMPAT_AUTH_DOMAIN_PARAM)
    return {"auth_domain_override": domain} if domain else {}


def anaconda_config() -> AnacondaAuthConfig:
    """The anaconda-auth configuration the Panel handler uses (resolved now)."""
    from anaconda_auth.config import AnacondaAuthConfig

    return AnacondaAuthConfig(**_panel_config_overrides())


def logout_url(post_logout_redirect_uri: str | None = None) -> str | None:
    """The provider's end-session URL for this app's client, or None if it has none.

    Send the browser there to end the Anaconda session too; with a ``post_logout_redirect_uri``
    registered for the client (e.g. the app's ``/logout``), the provider sends it back, and
    Panel's logout page clears the app's cookies. Blocking on first use (discovery); the login
    has normally filled the cache already.
    """
    from panel.config import config as panel_config

    endpoints = discover_sync(anaconda_config())
    return _end_session_url(endpoints, panel_config.oauth_key, post_logout_redirect_uri)


# --------------------------------------------------------------------------------------------
# The handler, built lazily (see the module docstring)

_build_lock = threading.RLock()


def _build_handler_class() -> type[AnacondaLoginHandler]:
    # May re-enter this module's __getattr__ when panel.auth is not imported yet: panel.auth
    # loads its entry points (us) at the end of its own import, and that nested call builds
    # the class first. Hence the import outside the lock, and the check after it.
    from panel.auth import GenericLoginHandler

    with _build_lock:
        existing = globals().get("AnacondaLoginHandler")
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        cls = _define_handler_class(GenericLoginHandler)
        globals()["AnacondaLoginHandler"] = cls
        return cls


def _define_handler_class(base: type[GenericLoginHandler]) -> type[AnacondaLoginHandler]:
    from panel.config import config as panel_config
    from tornado.web import HTTPError

    from anaconda_auth import __version__

    class _AnacondaLoginHandler(base):  # type: ignore[valid-type,misc]
        """Panel login handler for Anaconda (OpenID Connect, authorization code flow).

        Register a confidential client at the provider with the app's redirect URI (by default
        the app's root URL, e.g. ``http://localhost:5006``, or ``--oauth-redirect-uri``), the
        ``authorization_code`` and ``refresh_token`` grants, ``client_secret_post``
        authentication, and the scopes ``openid email profile offline_access``. The handler
        uses PKCE (S256) as well. The user key is the email.
        """

        _DEFAULT_SCOPES = list(SCOPES)
        _access_token_header = "Bearer {}"
        _EXTRA_TOKEN_PARAMS = {"grant_type": "authorization_code"}
        _API_BASE_HEADERS = {
            "Accept": "application/json",
            "User-Agent": f"anaconda-auth/{__version__} (Panel)",
        }

        _anaconda_config: AnacondaAuthConfig | None = None
        _endpoints: OIDCEndpoints | None = None

        # -- configuration and discovery -------------------------------------------------

        def anaconda_config(self) -> AnacondaAuthConfig:
            if self._anaconda_config is None:
                try:
                    config = anaconda_config()
                    request_timeout(config)  # validated here, where it can be reported
                    ssl_context(config)  # a missing CA file, a bad client certificate
                    self._anaconda_config = config
                except Exception as exc:  # the errors name the source, key or file
                    raise HTTPError(
                        500,
                        log_message=f"anaconda-auth configuration error: {exc}",
                        reason="Configuration error",
                    ) from None
            return self._anaconda_config

        async def _ensure_endpoints(self) -> OIDCEndpoints:
            if self._endpoints is None:
                config = self.anaconda_config()
                try:
                    self._endpoints = await discover(config)
                except DiscoveryError as exc:
                    raise HTTPError(
                        502,
                        log_message=(
                            f"Could not load the Anaconda sign-in configuration of "
                            f"{config.auth_domain}: {exc}"
                        ),
                        reason="Identity provider unavailable",
                    ) from None
            return self._endpoints

        def _require_endpoints(self) -> OIDCEndpoints:
            if self._endpoints is None:
                # Only reached by code paths that skipped prepare(); discovery is cached.
                try:
                    self._endpoints = discover_sync(self.anaconda_config())
                except DiscoveryError as exc:
                    raise HTTPError(
                        502, log_message=str(exc), reason="Identity provider unavailable"
                    ) from None
            return self._endpoints

        async def prepare(self) -> None:
            await self._ensure_endpoints()

        # -- what Panel reads ------------------------------------------------------------

        @property
        def _OAUTH_AUTHORIZE_URL(self) -> str:  # noqa: N802
            return self._require_endpoints().authorization_endpoint

        @property
        def _OAUTH_ACCESS_TOKEN_URL(self) -> str:  # noqa: N802
            return self._require_endpoints().token_endpoint

        @property
        def _OAUTH_USER_URL(self) -> str | None:  # noqa: N802
            return self._require_endpoints().userinfo_endpoint

        @property
        def _OAUTH_LOGOUT_URL(self) -> str:  # noqa: N802
            # Read by the error page: must never raise.
            if self._endpoints is None:
                return ""
            return _end_session_url(self._endpoints, panel_config.oauth_key, None) or ""

        @property
        def _USER_KEY(self) -> str:  # noqa: N802
            return "email"

        def get_auth_http_client(self) -> AsyncHTTPClient:
            return http_client(self.anaconda_config())

        def _request_summary(self) -> str:
            # Tornado's access log and error lines: keep the authorization code out of them.
            request = self.request
            return f"{request.method} {redact_uri(request.uri or '')} ({request.remote_ip})"

        # -- behaviour -------------------------------------------------------------------

        def authorize_redirect(
            self,
            redirect_uri: str | None = None,
            client_id: str | None = None,
            client_secret: str | None = None,
            extra_params: dict[str, Any] | None = None,
            scope: list[str] | None = None,
            response_type: str = "code",
        ) -> None:
            # Panel passes the client secret here (Tornado ignores it with a warning), and
            # forwards --oauth-extra-params; the compatibility key is ours, not the provider's.
            params = {
                k: v for k, v in (extra_params or {}).items() if k != _COMPAT_AUTH_DOMAIN_PARAM
            }
            # PKCE (RFC 7636) for the confidential client too, as RFC 9700 recommends: the
            # verifier waits in a signed, http-only cookie, as in Panel's own PKCE handler.
            verifier, challenge = self.get_code()
            self.set_code_cookie(verifier)
            params.update(code_challenge=challenge, code_challenge_method="S256")
            super().authorize_redirect(
                redirect_uri=redirect_uri,
                client_id=client_id,
                extra_params=params,
                scope=scope,
                response_type=response_type,
            )

        async def _fetch_access_token(
            self,
            client_id: str,
            redirect_uri: str | None = None,
            client_secret: str | None = None,
            code: str | None = None,
            refresh_token: str | None = None,
            username: str | None = None,
            password: str | None = None,
            user: str | None = None,
        ) -> Any:
            await self._ensure_endpoints()
            if code and client_secret:
                # Panel sends the PKCE verifier only for clients without a secret; this
                # handler instance serves one request, so an instance attribute is safe.
                verifier = self.get_code_cookie()
                if verifier:
                    self._EXTRA_TOKEN_PARAMS = {
                        **type(self)._EXTRA_TOKEN_PARAMS,
                        "code_verifier": verifier,
                    }
            try:
                result = await super()._fetch_access_token(
                    client_id,
                    redirect_uri=redirect_uri,
                    client_secret=client_secret,
                    code=code,
                    refresh_token=refresh_token,
                    username=username,
                    password=password,
                    user=user,
                )
            except HTTPError:
                raise
            except Exception as exc:  # TLS, connection and timeout errors
                raise HTTPError(
                    502,
                    log_message=(
                        f"Could not reach the Anaconda token endpoint ({type(exc).__name__}: {exc})"
                    ),
                    reason="Identity provider unavailable",
                ) from None
            if isinstance(result, tuple) and len(result) == 3:
                # Panel returns three values when a refresh gives no new access token, but its
                # callers unpack four.
                return (None, None, None, None)
            return result

        def _raise_error(self, response: Any, body: Any = None, status: int = 400) -> None:
            if response is None:  # no HTTP response at all (timeout, connection refused)
                raise HTTPError(
                    502,
                    log_message="The Anaconda token endpoint did not answer.",
                    reason="Identity provider unavailable",
                )
            super()._raise_error(response, body, status)

    _AnacondaLoginHandler.__name__ = "AnacondaLoginHandler"
    _AnacondaLoginHandler.__qualname__ = "AnacondaLoginHandler"
    return _AnacondaLoginHandler


def __getattr__(name: str) -> Any:
    if name == "AnacondaLoginHandler":
        return _build_handler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
