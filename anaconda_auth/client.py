"""A ``requests.Session`` that talks to an Anaconda site with the user's credentials.

``BaseClient`` resolves the configuration once, when it is built, and then only does cheap
work per request: it joins relative URLs onto the site, and looks the stored API key up again
(so a login in another process is seen at once) — but only for requests to the site itself.

Importing this module is cheap on purpose: pydantic, the config model, the token store and the
plugin manager load when the first client is built, not before.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Mapping, MutableMapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

from anaconda_auth._version import __version__
from anaconda_auth.client_auth import BearerAuth as BearerAuth  # 0.15's public name is here
from anaconda_auth.client_auth import (
    Origin,
    _BearerAuth,
    _own_token_storage,
    _request_origin,
)
from anaconda_auth.client_auth import _origin as _origin  # importable here (tests)
from anaconda_auth.exceptions import TokenExpiredError as TokenExpiredError  # as in 0.15
from anaconda_auth.exceptions import TokenNotFoundError as TokenNotFoundError  # as in 0.15
from anaconda_auth.exceptions import UnknownSiteName
from anaconda_auth.http.hostname import client_hostname
from anaconda_auth.http.responses import AnacondaResponse as AnacondaResponse
from anaconda_auth.http.responses import login_required as login_required
from anaconda_auth.http.tls import SSLContextAdapter as SSLContextAdapter  # importable here
from anaconda_auth.http.tls import configure_session
from anaconda_auth.utils import get_hostname as get_hostname  # importable here, as in 0.15

if TYPE_CHECKING:
    from requests import PreparedRequest

    # importable from here, as in 0.15 (loaded on first use by __getattr__ below)
    from anaconda_auth.config import AnacondaAuthConfig as AnacondaAuthConfig
    from anaconda_auth.config import AnacondaAuthSite as AnacondaAuthSite
    from anaconda_auth.token import TokenInfo as TokenInfo

__all__ = [
    "AnacondaResponse",
    "ApiVersionWarning",
    "BaseClient",
    "BearerAuth",
    "client_factory",
    "login_required",
]

log = logging.getLogger(__name__)

#: 0.15's name of the adapter (``HTTPAdapter(ssl_context=...)``, also ``anaconda_auth.adapters``).
HTTPAdapter = SSLContextAdapter

#: Set on a response whose ``Min-Api-Version`` was looked at by ``BaseClient.send``.
_CHECKED = "_anaconda_auth_api_version_checked"


class ApiVersionWarning(UserWarning, DeprecationWarning):
    """The service needs a newer API version than this client speaks: upgrade the client.

    A ``DeprecationWarning``, as 0.15 issued (code filtering or catching that still sees it),
    and a ``UserWarning``; unlike other ``DeprecationWarning``s it is shown by default: importing
    this module adds a ``default`` filter for this category alone, unless the program was
    started with warning options (``-W``, ``PYTHONWARNINGS``), which then decide.
    """


if not sys.warnoptions:
    warnings.filterwarnings("default", category=ApiVersionWarning)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...] | None:
    """A comparable key for dotted or date-like versions ("1.2.10", "2024-01-15", "v2").

    Each component contributes its leading digits; parsing stops at the first component with a
    suffix ("3rc1" → 3) and trailing zeros are dropped, so "1.2" == "1.2.0". ``None`` when the
    string does not start with a number.
    """
    parts = re.split(r"[.\-_/]", version.strip().lstrip("vV"))
    key: list[int] = []
    for part in parts:
        match = re.match(r"\d+", part)
        if match is None:
            break
        key.append(int(match.group()))
        if match.end() != len(part):
            break
    if not key:
        return None
    while len(key) > 1 and key[-1] == 0:
        key.pop()
    return tuple(key)


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


def _resolve_config(
    site: str | AnacondaAuthSite | None, overrides: dict[str, Any]
) -> AnacondaAuthSite:
    from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSite

    if isinstance(site, AnacondaAuthSite):
        if not overrides:
            return site
        data = site.model_dump()
        data.update(overrides)
        return AnacondaAuthSite(**data)
    if site is not None:
        if not isinstance(site, str):  # as 0.15: no site has such a name
            raise UnknownSiteName(
                f"site={site!r}: give the name of a configured site, its domain, or an "
                "AnacondaAuthSite."
            )
        overrides["site"] = site
    return AnacondaAuthConfig(**overrides)


class BaseClient(requests.Session):
    """A ``requests.Session`` for an Anaconda site.

    Relative URLs are joined onto ``https://<domain>`` (or ``base_uri``). Every request
    carries ``User-Agent``, ``Api-Version`` (when set), ``X-Client-Hostname`` and the
    configured extra headers; requests to the site (its domain, its auth domain, and
    ``base_uri``) also carry ``Authorization: Bearer <key>`` — ``api_key`` if given, else the
    stored login token, looked up on each request. Pass ``auth=False`` to a request to send no
    credentials.

    Subclasses set ``_user_agent`` and ``_api_version``; explicit arguments win over them.
    Every other argument overrides the resolved configuration (see ``AnacondaAuthConfig``);
    ``site`` is a configured site name or an ``AnacondaAuthSite``.
    """

    _user_agent: str = f"anaconda-auth/{__version__}"
    _api_version: str | None = None
    #: Methods retried on connection errors and 429/502/503/504 (``max_retries`` times); add
    #: ``"POST"`` in a subclass to have POSTs retried too.
    retry_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

    def __init__(
        self,
        site: str | AnacondaAuthSite | None = None,
        base_uri: str | None = None,
        domain: str | None = None,
        auth_domain_override: str | None = None,
        api_key: str | None = None,
        user_agent: str | None = None,
        api_version: str | None = None,
        ssl_verify: bool | str | None = None,
        extra_headers: str | Mapping[str, str] | None = None,
        hash_hostname: bool | None = None,
        proxy_servers: MutableMapping[str, str] | None = None,
        client_cert: str | None = None,
        client_cert_key: str | None = None,
    ) -> None:
        super().__init__()
        if base_uri and domain:
            raise ValueError("Give only one of `domain` and `base_uri`.")
        overrides: dict[str, Any] = {
            key: value
            for key, value in (
                ("domain", domain),
                ("auth_domain_override", auth_domain_override),
                ("api_key", api_key),
                ("ssl_verify", ssl_verify),
                ("extra_headers", extra_headers),
                ("hash_hostname", hash_hostname),
                ("proxy_servers", proxy_servers),
                ("client_cert", client_cert),
                ("client_cert_key", client_cert_key),
            )
            if value is not None
        }
        self.config: AnacondaAuthSite = _resolve_config(site, overrides)
        config = self.config

        self._base = base_uri or f"https://{config.domain}"
        self.api_version: str | None = api_version or self._api_version

        self._pin_verify = configure_session(self, config)
        if config.proxy_servers:
            self.proxies.update(config.proxy_servers)
        #: The default ``(connect, read)`` timeout of every request; ``timeout=`` overrides it.
        self.timeout: float | tuple[float, float] | None = (
            config.http_timeout,
            config.http_timeout,
        )
        if config.max_retries:
            from anaconda_auth.http.retry import client_retry

            retry = client_retry(config.max_retries, self.retry_methods)
            for adapter in self.adapters.values():
                if isinstance(adapter, requests.adapters.HTTPAdapter):
                    adapter.max_retries = retry

        headers = self.headers
        self.user_agent: str = user_agent or self._user_agent
        headers["User-Agent"] = self.user_agent
        headers["X-Client-Hostname"] = client_hostname(config.hash_hostname)
        protected = {"user-agent", "x-client-hostname", "authorization"}
        if self.api_version:
            headers["Api-Version"] = self.api_version
            protected.add("api-version")
        fallback_authorization = None
        secret_headers: dict[str, str] = {}
        if config.extra_headers:
            from anaconda_auth.config.loader import is_secret_name

            for name, value in config.extra_headers.items():  # validated by the config
                lowered = name.lower()
                if lowered == "authorization":
                    fallback_authorization = value
                elif lowered in protected:
                    continue
                elif is_secret_name(name):
                    secret_headers[name] = value  # like Authorization: the site only
                else:
                    headers[name] = value

        self.auth = _BearerAuth(
            config.domain,
            self._site_origins(),
            config.api_key,
            fallback_authorization,
            config if _own_token_storage(config) else None,
            secret_headers,
        )

    def _site_origins(self) -> frozenset[Origin]:
        """Where credentials may go: the domain, the auth domain and the base URI."""
        urls = (
            f"https://{self.config.domain}",
            f"https://{self.config.auth_domain}",
            self._base,
        )
        return frozenset(o for o in map(_origin, urls) if o is not None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_uri={self._base!r}>"

    # -- URLs -----------------------------------------------------------------------------

    @property
    def base_uri(self) -> str:
        """The URL relative request URLs are joined onto; credentials may be sent to its origin.

        Assigning it (also as ``_base_uri``, the name subclasses of 0.15 use) moves the client,
        and the origin its credentials may go to, to the new URL.
        """
        return self._base

    @base_uri.setter
    def base_uri(self, value: str) -> None:
        self._base = value
        auth = self.__dict__.get("auth")
        if isinstance(auth, _BearerAuth):
            auth.origins = self._site_origins()

    @property
    def _base_uri(self) -> str:
        return self._base

    @_base_uri.setter
    def _base_uri(self, value: str) -> None:
        self.base_uri = value

    def urljoin(self, url: str) -> str:
        """``url`` joined onto the base URI (absolute URLs are returned unchanged)."""
        if url.startswith(("https://", "http://")):
            return url
        return urljoin(self._base, url)

    def prepare_request(self, request: requests.Request) -> PreparedRequest:
        url = request.url
        if isinstance(url, bytes):
            url = url.decode("utf-8")
        elif type(url) is not str:
            url = str(url)
        request.url = self.urljoin(url)
        return super().prepare_request(request)

    # -- environment, sending -------------------------------------------------------------

    def rebuild_auth(self, prepared_request: PreparedRequest, response: requests.Response) -> None:
        """On a redirect: as requests does, and no credentials for a URL off the site.

        requests drops ``Authorization`` when the host changes; here ``Authorization`` and the
        secret ``extra_headers`` are dropped whenever the redirect leaves the site's origins.
        """
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        url = prepared_request.url or ""
        auth = self.__dict__.get("auth")
        origins = auth.origins if isinstance(auth, _BearerAuth) else self._site_origins()
        if _request_origin(url) not in origins:
            headers = prepared_request.headers
            secret = auth.secret_headers if isinstance(auth, _BearerAuth) else {}
            for name in ("Authorization", *secret):
                headers.pop(name, None)

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> Any:
        """As requests does, except that configuration beats the environment.

        requests lets ``HTTPS_PROXY`` replace the session's proxies and ``REQUESTS_CA_BUNDLE``
        replace the session's ``verify``. Here configured ``proxy_servers`` win over proxy
        variables, and an ``ssl_verify`` other than ``true`` (a CA path, ``false``,
        ``"truststore"``) wins over the CA-bundle variables. Per-request arguments still win
        over both. With ``ssl_verify = true`` the CA-bundle variables apply as usual.
        """
        if self.trust_env and self.proxies:
            proxies = {**self.proxies, **(proxies or {})}
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # request() passes the session's own verify when none was given: that is pinned too.
        if self._pin_verify and (verify is None or verify is self.verify):
            settings["verify"] = self.verify
        return settings

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """As ``requests.Session.request``; ``verify`` is the resolved TLS setting unless given.

        The configured ``ssl_verify`` resolved (``"truststore"`` is ``True`` with the trust
        store's context mounted), passed explicitly as 0.15 did: code that replaces
        ``requests.Session.request`` sees what will be used.
        """
        if "verify" not in kwargs:
            kwargs["verify"] = self.verify
        if "timeout" not in kwargs and len(args) < 7:  # (timeout is the 9th positional)
            kwargs["timeout"] = self.timeout
        response = super().request(method, url, *args, **kwargs)
        if self.api_version and not getattr(response, _CHECKED, False):
            # Only a response that did not come through send() (a replaced
            # Session.request, as test suites do) is checked here.
            minimum = response.headers.get("Min-Api-Version")
            if minimum:
                self._check_api_version(minimum, stacklevel=4)
        return response

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        if "timeout" not in kwargs:  # (request() always passes one)
            kwargs["timeout"] = self.timeout
        response = super().send(request, **kwargs)
        if type(response) is requests.Response:
            response.__class__ = AnacondaResponse
        if self.api_version:  # (only then is the header looked at)
            minimum = response.headers.get("Min-Api-Version")
            if minimum:
                self._check_api_version(minimum)
            setattr(response, _CHECKED, True)
        return response

    def _check_api_version(self, minimum: str, stacklevel: int = 6) -> None:
        """Warn (``ApiVersionWarning``, with 0.15's text) when ``minimum`` is newer than ours.

        ``stacklevel`` 6 names the caller of ``client.get(...)`` when called from ``send``.
        """
        assert self.api_version is not None
        ours, theirs = _version_key(self.api_version), _version_key(minimum)
        if ours is None or theirs is None:
            return
        if ours < theirs:
            warnings.warn(
                f"Client API version is {self.api_version}, minimum supported API version is "
                f"{minimum}. You may need to update your client.",
                ApiVersionWarning,
                stacklevel=stacklevel,
            )

    # -- the account ----------------------------------------------------------------------

    @cached_property
    def account(self) -> dict[str, Any]:
        """``GET /api/account``, fetched once per client.

        Not logged in (401/403 and no key sent) gives an anonymous placeholder, as the
        existing client does; any other error is raised.
        """
        response = self.get("/api/account", stream=True)
        if isinstance(response, requests.Response):
            _read_account_reply(response)
        if response.status_code in (401, 403) and "Authorization" not in response.request.headers:
            account: dict[str, Any] = {
                "user": {
                    "id": None,
                    "email": None,
                    "username": "",
                    "first_name": "",
                    "last_name": "",
                },
                "profile": {"is_confirmed": False, "is_disabled": False, "is_consented": False},
                "subscriptions": [],
            }
        else:
            response.raise_for_status()
            account = _account_object(response)
        account["domain"] = self.config.domain
        return account

    @property
    def name(self) -> str:
        """The user's full name, or their email address when the account has no name."""
        user = self.account.get("user") or {}
        full = f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip()
        return full or self.email

    @property
    def email(self) -> str:
        value = (self.account.get("user") or {}).get("email")
        if not value:
            raise ValueError(
                "Something is wrong with your account: no email address was found. "
                "Are you logged in (`anaconda login`)?"
            )
        return str(value)

    #: Where :attr:`avatar` is fetched from; ``{hash}`` is the MD5 of the email (Gravatar's key).
    avatar_url = "https://gravatar.com/avatar/{hash}.png?size=120&d=404"

    @cached_property
    def avatar(self) -> bytes | None:
        """The user's Gravatar image (PNG bytes), or ``None`` when they have none.

        As in 0.15, a request to gravatar.com, made only when this property is read (nothing
        in anaconda-auth reads it) and once per client. The API key is never sent with it.
        """
        import hashlib

        digest = hashlib.md5(self.email.encode("utf-8"), usedforsecurity=False).hexdigest()
        response = self.get(self.avatar_url.format(hash=digest), auth=False)  # type: ignore[arg-type]
        return response.content if response.ok else None


#: The largest account reply read (a real one is a few KiB).
MAX_ACCOUNT_BYTES = 1024 * 1024


def _read_account_reply(response: requests.Response) -> None:
    from anaconda_auth.http.deadline import ReplyTooLarge, read_capped
    from anaconda_auth.http.responses import UnexpectedResponseError

    try:
        read_capped(response, MAX_ACCOUNT_BYTES)
    except ReplyTooLarge:
        raise UnexpectedResponseError(
            f"The account reply of {response.url} is larger than "
            f"{MAX_ACCOUNT_BYTES // 1024} KiB; it was not read. Check the domain in your config."
        ) from None


def _account_object(response: requests.Response) -> dict[str, Any]:
    """The JSON object of an account reply, or an error naming the URL."""
    from anaconda_auth.http.responses import UnexpectedResponseError

    try:
        data = response.json()
    except ValueError:
        ctype = response.headers.get("Content-Type") or "no content type"
        raise UnexpectedResponseError(
            f"{response.url} did not return JSON (HTTP {response.status_code}, {ctype}); "
            "expected the account as a JSON object. Check the domain in your config."
        ) from None
    if not isinstance(data, dict):
        raise UnexpectedResponseError(
            f"{response.url} returned JSON {type(data).__name__} where the account (a JSON "
            "object) was expected. Check the domain in your config."
        )
    return data


def client_factory(user_agent: str | None, api_version: str | None = None) -> BaseClient:
    """A :class:`BaseClient` for the configured site with this user agent and API version."""
    return BaseClient(user_agent=user_agent, api_version=api_version)


#: Names 0.15 made importable from this module; loaded on first use (they need pydantic).
_LAZY = {
    "AnacondaAuthConfig": "anaconda_auth.config",
    "AnacondaAuthSite": "anaconda_auth.config",
    "TokenInfo": "anaconda_auth.token",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(module), name)
