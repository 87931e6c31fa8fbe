"""``AsyncBaseClient``: an ``httpx.AsyncClient`` that talks to an Anaconda site like ``BaseClient``.

It is built on a :class:`~anaconda_auth.client.BaseClient` made from the same arguments, and
takes everything from it, so the two never disagree: the resolved configuration, the base URI
relative URLs are joined onto (``urljoin`` rules, as ``BaseClient``), the headers
(``User-Agent``, ``Api-Version``, ``X-Client-Hostname``, extra headers), and the credentials
rule — ``Authorization: Bearer <key>`` (``api_key``, else the stored key, looked up per
request) only for the configured origins (domain, auth domain, base URI). TLS comes from the
package's one TLS policy (:func:`anaconda_auth.http.tls.ssl_context`: ``ssl_verify``,
``client_cert``, ``client_cert_key``), proxies from ``proxy_servers``, and the default timeout
from ``http_timeout``.

Needs httpx: ``pip install 'anaconda-auth[async]'``. ``import anaconda_auth.client`` never
imports httpx.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Mapping
from functools import cached_property
from typing import Any

try:
    import httpx
except ImportError:  # pragma: no cover - exercised in a fresh interpreter by the tests
    raise ImportError(
        "anaconda_auth.async_client needs httpx, which is an optional extra: "
        "pip install 'anaconda-auth[async]' (or conda install httpx)."
    ) from None

import requests

from anaconda_auth.client import _CHECKED, BaseClient
from anaconda_auth.client_auth import _BearerAuth, _request_origin
from anaconda_auth.http.session import http_timeout
from anaconda_auth.http.tls import ssl_context

__all__ = ["AsyncBaseClient"]

#: Arguments the client derives from the configuration; ``httpx_kwargs`` may not set them.
_DERIVED = frozenset({"headers", "verify", "cert", "base_url", "auth"})


class _SiteAuth(httpx.Auth):
    """Asks the ``BaseClient``'s own auth what to send, per request (one rule for both)."""

    def __init__(self, sync_client: BaseClient) -> None:
        self._sync_client = sync_client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} domain={self._sync_client.config.domain!r}>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        auth = self._sync_client.auth
        if isinstance(auth, _BearerAuth):
            request.headers.update(auth.credential_headers(str(request.url)))
        yield request


def _request_headers(sync_client: BaseClient) -> dict[str, str]:
    """The client's headers without the ones requests adds by itself (httpx sets its own)."""
    defaults = requests.utils.default_headers()
    return {
        name: value if isinstance(value, str) else value.decode("latin-1")
        for name, value in sync_client.headers.items()
        if name.lower() == "user-agent" or defaults.get(name) != value
    }


def _proxy_mounts(
    proxies: Mapping[str, str] | None, context: ssl.SSLContext
) -> dict[str, httpx.AsyncBaseTransport]:
    """``proxy_servers`` (requests' keys: ``https``, ``all``, ``https://host``) as httpx mounts."""
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for key, url in (proxies or {}).items():
        if not url or key.lower() == "no_proxy":
            continue
        pattern = key if "://" in key else f"{key}://"
        proxy = url if "://" in url else f"http://{url}"
        mounts[pattern] = httpx.AsyncHTTPTransport(proxy=proxy, verify=context)
    return mounts


class AsyncBaseClient(httpx.AsyncClient):
    """Version of :class:`~anaconda_auth.client.BaseClient` for use in async code.

    ``kwargs`` are ``BaseClient``'s (``site``, ``domain``, ``base_uri``, ``api_key``,
    ``ssl_verify``, ``proxy_servers``, ...). ``httpx_kwargs`` go to ``httpx.AsyncClient``
    (e.g. ``timeout``, ``follow_redirects``); they cannot include what the configuration
    decides: ``headers``, ``verify``, ``cert``, ``base_url`` and ``auth``. Pass ``auth=None``
    to a request to send no credentials.
    """

    def __init__(self, httpx_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        extra = dict(httpx_kwargs or {})
        clash = sorted(_DERIVED.intersection(extra))
        if clash:
            raise TypeError(
                f"httpx_kwargs cannot set {', '.join(clash)}: they come from the configuration"
            )
        sync_client = BaseClient(**kwargs)
        self._sync_client = sync_client
        self.config = sync_client.config
        self.api_version: str | None = sync_client.api_version
        self.user_agent: str = sync_client.user_agent

        context = ssl_context(self.config)
        extra.setdefault("timeout", httpx.Timeout(http_timeout(self.config)))
        mounts = _proxy_mounts(self.config.proxy_servers, context)
        mounts.update(extra.pop("mounts", None) or {})
        super().__init__(
            headers=_request_headers(sync_client),
            verify=context,
            base_url=sync_client.base_uri,
            auth=_SiteAuth(sync_client),
            mounts=mounts,
            **extra,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_uri={self.base_uri!r}>"

    @property
    def base_uri(self) -> str:
        """As ``BaseClient.base_uri``: assigning it also moves where credentials may go."""
        return self._sync_client.base_uri

    @base_uri.setter
    def base_uri(self, value: str) -> None:
        self._sync_client.base_uri = value
        self.base_url = value

    def urljoin(self, url: str) -> str:
        """``url`` joined onto the base URI, with ``BaseClient``'s rules."""
        return self._sync_client.urljoin(url)

    def build_request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> httpx.Request:
        # urljoin rules (as BaseClient), not httpx's base_url appending: "/x" is the site root.
        url = self.urljoin(url.decode() if isinstance(url, bytes) else str(url))
        return super().build_request(method, url, *args, **kwargs)

    async def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        response = await super().request(method, url, *args, **kwargs)
        if self.api_version and not getattr(response, _CHECKED, False):
            # Only a response that did not come through send() (a replaced
            # AsyncClient.request, as test suites do) is checked here.
            minimum = response.headers.get("Min-Api-Version")
            if minimum:
                self._sync_client._check_api_version(minimum, stacklevel=4)
        return response

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, **kwargs)
        if self.api_version:
            minimum = response.headers.get("Min-Api-Version")
            if minimum:
                self._sync_client._check_api_version(minimum)
            setattr(response, _CHECKED, True)
        return response

    def _redirect_headers(
        self, request: httpx.Request, url: httpx.URL, method: str
    ) -> httpx.Headers:
        # httpx drops Authorization on a cross-origin redirect; off the site, the secret
        # extra_headers go too (as BaseClient.rebuild_auth).
        headers = super()._redirect_headers(request, url, method)
        auth = self._sync_client.auth
        if isinstance(auth, _BearerAuth) and _request_origin(str(url)) not in auth.origins:
            for name in ("Authorization", *auth.secret_headers):
                headers.pop(name, None)
        return headers

    async def aclose(self) -> None:
        await super().aclose()
        self._sync_client.close()

    # -- the account (as in 0.15: fetched through the synchronous client) -------------------

    @cached_property
    def account(self) -> dict[str, Any]:
        """``GET /api/account``, once per client (a blocking call, as in 0.15)."""
        return self._sync_client.account

    @property
    def name(self) -> str:
        return self._sync_client.name

    @property
    def email(self) -> str:
        return self._sync_client.email
