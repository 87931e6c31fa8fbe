"""OpenID Connect discovery and the token endpoint, shared by the browser and device flows.

The discovery document is fetched once per process for each (URL, TLS/proxy settings) and
kept; :func:`clear_cache` forgets it (tests, or after changing the config in a long-lived
process). Errors are cached never.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from anaconda_auth import _http
from anaconda_auth.exceptions import AuthenticationError, InvalidTokenError

if TYPE_CHECKING:
    import requests

    from anaconda_auth.config import AnacondaAuthSite

log = logging.getLogger(__name__)

#: The scopes every login asks for (``offline_access`` for a refresh token).
SCOPE = "openid email profile offline_access"

_REQUIRED = ("authorization_endpoint", "token_endpoint")
_OPTIONAL = (
    "device_authorization_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "jwks_uri",
    "revocation_endpoint",
)


class DiscoveryError(_http.ProviderError):
    """The OpenID configuration could not be fetched or is unusable."""


class OAuthError(AuthenticationError):
    """The identity provider answered with an OAuth 2 error (``error`` / ``error_description``).

    Neither field can carry a secret (RFC 6749 restricts them to printable ASCII messages the
    provider writes), so both are part of the message.
    """

    def __init__(self, what: str, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        text = f"{what} failed: {error}"
        if description:
            text += f" ({description})"
        super().__init__(text)


@dataclass(frozen=True)
class OpenIDConfiguration:
    """The endpoints of an identity provider, from its discovery document."""

    url: str
    authorization_endpoint: str
    token_endpoint: str
    issuer: str | None = None
    device_authorization_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    jwks_uri: str | None = None
    revocation_endpoint: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def authorization_response_iss_parameter_supported(self) -> bool:
        """RFC 9207: the provider puts ``iss`` in every authorization response."""
        return self.raw.get("authorization_response_iss_parameter_supported") is True

    @classmethod
    def from_document(cls, url: str, data: dict[str, Any]) -> OpenIDConfiguration:
        missing = [k for k in _REQUIRED if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise DiscoveryError(
                f"The OpenID configuration at {url} lacks {', '.join(missing)}; the domain "
                "does not look like an Anaconda login service. Check domain, "
                "auth_domain_override and openid_config_path in your config.",
                url=url,
            )
        values: dict[str, Any] = {}
        for key in (*_REQUIRED, *_OPTIONAL):
            value = data.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not _acceptable_endpoint(value):
                raise DiscoveryError(
                    f"The OpenID configuration at {url} has an invalid {key}: {value!r} "
                    "(an https:// URL is required).",
                    url=url,
                )
            values[key] = value
        issuer = data.get("issuer")
        return cls(
            url=url, issuer=issuer if isinstance(issuer, str) else None, raw=dict(data), **values
        )


def _acceptable_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return True
    # Plain http only for a provider on this machine (development servers).
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


_cache: dict[tuple[Any, ...], OpenIDConfiguration] = {}
_cache_lock = threading.Lock()


def _cache_key(config: AnacondaAuthSite) -> tuple[Any, ...]:
    proxies = tuple(sorted((config.proxy_servers or {}).items()))
    return (
        config.well_known_url,
        repr(config.ssl_verify),
        config.client_cert,
        config.client_cert_key,
        proxies,
    )


def clear_cache() -> None:
    """Forget every fetched discovery document."""
    with _cache_lock:
        _cache.clear()


def discover(
    config: AnacondaAuthSite, session: _http.LoginSession | None = None
) -> OpenIDConfiguration:
    """The OpenID configuration of the config's auth domain (fetched once per process)."""
    key = _cache_key(config)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        log.debug("OpenID configuration of %s from cache", config.auth_domain)
        return cached
    own = session is None
    session = session or _http.make_session(config)
    try:
        found = _fetch(config.well_known_url, session)
    finally:
        if own:
            session.close()
    with _cache_lock:
        _cache[key] = found
    return found


def _fetch(url: str, session: _http.LoginSession) -> OpenIDConfiguration:
    what = "OpenID discovery"
    response = _http.send(session, "GET", url, what=what, headers={"Accept": "application/json"})
    if response.status_code == 404:
        raise DiscoveryError(
            f"{what} failed: there is no OpenID configuration at {url} (HTTP 404). Check "
            "domain, auth_domain_override and openid_config_path in your config.",
            url=url,
            status=404,
        )
    if response.status_code != 200:
        error = _http.status_error(response, what=what)
        raise DiscoveryError(str(error), url=url, status=response.status_code)
    try:
        data = _http.json_object(response, what=what)
    except _http.ProviderError as exc:
        raise DiscoveryError(str(exc), url=url, status=response.status_code) from None
    found = OpenIDConfiguration.from_document(url, data)
    log.debug(
        "OpenID configuration of %s: authorize %s, token %s, device %s",
        url,
        found.authorization_endpoint,
        found.token_endpoint,
        found.device_authorization_endpoint,
    )
    return found


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returned; the tokens never show in ``repr``."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    expires_in: float | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> TokenSet:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise InvalidTokenError("The token endpoint returned no access_token.")
        refresh = data.get("refresh_token")
        id_token = data.get("id_token")
        expires = data.get("expires_in")
        scope = data.get("scope")
        token_type = data.get("token_type")
        return cls(
            access_token=access,
            token_type=token_type if isinstance(token_type, str) else "Bearer",
            refresh_token=refresh if isinstance(refresh, str) else None,
            id_token=id_token if isinstance(id_token, str) else None,
            expires_in=float(expires) if isinstance(expires, (int, float)) else None,
            scope=scope if isinstance(scope, str) else None,
        )


def token_request(
    session: _http.LoginSession,
    oidc: OpenIDConfiguration,
    data: dict[str, str],
    *,
    what: str,
) -> TokenSet:
    """POST a grant to the token endpoint; an OAuth error reply raises :class:`OAuthError`."""
    response = _http.send(
        session,
        "POST",
        oidc.token_endpoint,
        what=what,
        data=data,
        headers={"Accept": "application/json"},
    )
    return parse_token_response(response, what=what)


def parse_token_response(response: requests.Response, *, what: str) -> TokenSet:
    if response.status_code == 200:
        return TokenSet.from_response(_http.json_object(response, what=what))
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            description = body.get("error_description")
            raise OAuthError(
                what, body["error"], description if isinstance(description, str) else None
            )
    raise _http.status_error(response, what=what)


def user_email(
    tokens: TokenSet, oidc: OpenIDConfiguration, session: _http.LoginSession
) -> str | None:
    """The user's email: from the ID token, the access token's claims, or the userinfo endpoint.

    Tokens are read without verifying signatures: the value is only a label for ``whoami``.
    """
    from anaconda_auth.token import jwt_claims

    for token in (tokens.id_token, tokens.access_token):
        if not token:
            continue
        try:
            claims = jwt_claims(token)
        except ValueError:
            continue
        email = claims.get("email")
        if isinstance(email, str) and email:
            return email
    if oidc.userinfo_endpoint:
        try:
            response = _http.send(
                session,
                "GET",
                oidc.userinfo_endpoint,
                what="the userinfo request",
                auth=_http.BearerAuth(tokens.access_token),
            )
            if response.status_code == 200:
                email = response.json().get("email")
                if isinstance(email, str) and email:
                    return email
        except (AuthenticationError, ValueError, AttributeError) as exc:
            log.debug("no email from the userinfo endpoint: %s", type(exc).__name__)
    return None
