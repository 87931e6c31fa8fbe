"""OpenID Connect discovery: the provider's endpoints, shared by every login flow and Panel.

The discovery document is fetched once per process for each (URL, TLS/proxy settings) and
kept; :func:`clear_cache` forgets it (tests, or after changing the config in a long-lived
process). Errors are cached never.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, PrivateAttr

from anaconda_auth.http import session as _http
from anaconda_auth.plugin_discovery import load_pydantic_plugins

load_pydantic_plugins()  # before the first model class (see anaconda_auth.plugin_discovery)

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite

log = logging.getLogger(__name__)

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


class OpenIDConfiguration(BaseModel):
    """The endpoints of an identity provider, from its discovery document.

    The one model of the package (anaconda-auth 0.15 exposed it as
    ``anaconda_auth.config.OpenIDConfiguration``): three declared endpoints, and every other
    field of the document kept as an extra attribute (``issuer``, ``userinfo_endpoint``...).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str | None = None

    _url: str = PrivateAttr(default="")

    @property
    def url(self) -> str:
        """Where the document was fetched from (empty when built by hand)."""
        return self._url

    def _extra(self, key: str) -> str | None:
        value = (self.model_extra or {}).get(key)
        return value if isinstance(value, str) else None

    @property
    def issuer(self) -> str | None:
        return self._extra("issuer")

    @property
    def userinfo_endpoint(self) -> str | None:
        return self._extra("userinfo_endpoint")

    @property
    def end_session_endpoint(self) -> str | None:
        return self._extra("end_session_endpoint")

    @property
    def jwks_uri(self) -> str | None:
        return self._extra("jwks_uri")

    @property
    def revocation_endpoint(self) -> str | None:
        return self._extra("revocation_endpoint")

    @property
    def raw(self) -> dict[str, Any]:
        """The whole document."""
        return self.model_dump()

    @property
    def authorization_response_iss_parameter_supported(self) -> bool:
        """RFC 9207: the provider puts ``iss`` in every authorization response."""
        return (self.model_extra or {}).get(
            "authorization_response_iss_parameter_supported"
        ) is True

    @classmethod
    def from_document(cls, data: Any, url: str) -> OpenIDConfiguration:
        """Validate a discovery document fetched from ``url``; :class:`DiscoveryError` names
        ``url`` and what is wrong."""
        if not isinstance(data, dict):
            raise DiscoveryError(
                f"The OpenID configuration at {url} is not a JSON object.", url=url
            )
        missing = [k for k in _REQUIRED if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise DiscoveryError(
                f"The OpenID configuration at {url} lacks {', '.join(missing)}; the domain "
                "does not look like an Anaconda login service. Check domain, "
                "auth_domain_override and openid_config_path in your config.",
                url=url,
            )
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
        document = dict(data)
        if not isinstance(document.get("issuer"), str):
            document.pop("issuer", None)
        found = cls.model_validate(document)
        found._url = url
        return found


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
    found = OpenIDConfiguration.from_document(data, url)
    log.debug(
        "OpenID configuration of %s: authorize %s, token %s, device %s",
        url,
        found.authorization_endpoint,
        found.token_endpoint,
        found.device_authorization_endpoint,
    )
    return found
