"""The client's credentials: which origins belong to the site, and the bearer auth that sends
the API key (looked up per request) to those origins only.

Split from :mod:`anaconda_auth.client`, which re-exports these names (``BearerAuth`` is 0.15's
public name there); :mod:`anaconda_auth.async_client` shares the same rule through them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from anaconda_auth.exceptions import TokenNotFoundError
from anaconda_auth.http import auth as _auth
from anaconda_auth.http.responses import EXPIRED_KEY_ATTRIBUTE

if TYPE_CHECKING:
    from requests import PreparedRequest

    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo

log = logging.getLogger("anaconda_auth.client")

_DEFAULT_PORTS = {"https": 443, "http": 80}

Origin = tuple[str, str, int]


# --------------------------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------------------------


#: ``_origin`` of URL prefixes (scheme://authority) seen, for the per-request check.
_origins_seen: dict[str, Origin | None] = {}
_PLAIN_AUTHORITY = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?(?=[/?#]|\Z)")


def _request_origin(url: str) -> Origin | None:
    """``_origin(url)``, remembered for URLs whose authority is a plain host[:port] (what the
    client sends); anything else (user info, IPv6, odd characters) is parsed every time."""
    match = _PLAIN_AUTHORITY.match(url)
    if match is None:
        return _origin(url)
    prefix = match.group()
    try:
        return _origins_seen[prefix]
    except KeyError:
        pass
    origin = _origin(prefix)
    if len(_origins_seen) >= 64:
        _origins_seen.clear()
    _origins_seen[prefix] = origin
    return origin


def _origin(url: str) -> Origin | None:
    """``(scheme, host, port)`` of ``url`` with the default port filled in; ``None`` if odd."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    scheme = parts.scheme.lower()
    if not host or scheme not in _DEFAULT_PORTS:
        return None
    return scheme, host.rstrip("."), port or _DEFAULT_PORTS[scheme]


# --------------------------------------------------------------------------------------------
# Authentication: the bearer token, only for the configured site
# --------------------------------------------------------------------------------------------


#: ``anaconda_auth.token``, ``anaconda_auth.storage.token_memo`` and ``anaconda_auth.freshness``,
#: imported by the first stored-key lookup: they need pydantic and the plugin manager, which a
#: client that is only imported never pays for.
_token_modules: Any = None

#: For this long (ns) after a lookup, the same auth object reuses its result without looking
#: at the files again (decision 0050): the environment and this process's own changes
#: (``freshness.local_changes``) are still checked on every request.
RECHECK_NS = 5_000_000
#: The clock of that window (tests replace it).
_clock = time.monotonic_ns


def _load_token_modules() -> Any:
    global _token_modules
    from anaconda_auth import freshness, token
    from anaconda_auth.storage import token_memo

    _token_modules = (token.TokenInfo, token_memo.peek, freshness)
    return _token_modules


class BearerAuth(_auth.BearerAuth):
    """``Authorization: Bearer <key>`` for every request it is attached to (the 0.15 API).

    With ``api_key`` that key is sent; otherwise the stored, unexpired API key for ``domain``
    (default: the configured domain) is looked up on each request, and no header is added when
    there is none. Attach it only to requests for that site: unlike the client's own auth, it
    does not check where a request goes.
    """

    def __init__(self, domain: str | None = None, api_key: str | None = None) -> None:
        if domain is None:
            from anaconda_auth.config import AnacondaAuthConfig

            domain = AnacondaAuthConfig().domain
        self.domain = domain
        self.api_key = api_key

    def __repr__(self) -> str:
        return f"<{type(self).__name__} domain={self.domain!r}>"

    #: The last lookup: (clock, ``freshness.local_changes``, environment, token); see
    #: :data:`RECHECK_NS`. It holds the key: never shown in a ``repr``.
    _recent: tuple[int, int, dict[Any, Any], TokenInfo | None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # A pickled client (multiprocessing, caches) must not carry the environment or the key.
        state = dict(self.__dict__)
        state.pop("_recent", None)
        return state

    def current_key(self) -> str | None:
        return self.api_key or self._stored_key()

    def _stored_token(self) -> TokenInfo | None:
        """:meth:`_load_token`, reused within :data:`RECHECK_NS` of the last lookup while the
        environment and this process's changes are as they were. Requests come in bursts: one
        look at the files per burst keeps the client as cheap as a plain session, and another
        process's login or logout is seen a few milliseconds later at most."""
        freshness = (_token_modules or _load_token_modules())[2]
        now = _clock()
        recent = self._recent
        if (
            recent is not None
            and now - recent[0] < RECHECK_NS
            and recent[1] == freshness.local_changes
            and freshness.env_unchanged(recent[2])
        ):
            return recent[3]
        changes = freshness.local_changes
        env = freshness.env_snapshot()
        info = self._load_token()
        self._recent = (now, changes, env, info)
        return info

    def _stored_key(self) -> str | None:
        info = self._stored_token()
        if info is None or not info.api_key:
            return None
        if info.expired:
            log.debug("the stored API key for %s has expired; not sending it", self.domain)
            return None
        return info.api_key

    def _load_token(self) -> TokenInfo | None:
        token_info, peek, _ = _token_modules or _load_token_modules()

        # Per request: the remembered load (only read here, so not copied) while nothing it
        # depends on changed, else a full load (see anaconda_auth.storage.token_memo).
        info: TokenInfo | None = peek(token_info, self.domain)
        if info is None:
            try:
                info = token_info.load(self.domain)
            except TokenNotFoundError:
                return None
        return info


def _own_token_storage(config: AnacondaAuthSite) -> bool:
    """Whether ``config`` (a site's) keeps tokens elsewhere than the default configuration,
    or pins an ``account`` (several accounts per domain: decision 0049).

    Then the client reads tokens with its own configuration; otherwise with the current one,
    re-resolved per request, so an ``ANACONDA_AUTH_API_KEY`` set later is still picked up.
    """
    if config.account is not None:
        return True
    from anaconda_auth.config import AnacondaAuthConfig

    default = AnacondaAuthConfig()
    return (config.keyring_path, config.preferred_token_storage) != (
        default.keyring_path,
        default.preferred_token_storage,
    )


class _BearerAuth(BearerAuth):
    """The client's auth: a :class:`BearerAuth` for the configured origins only.

    With a fixed ``api_key`` that key is used; otherwise the stored token for ``domain`` is
    looked up for every request. Requests to any other origin go out without credentials.
    """

    def __init__(
        self,
        domain: str,
        origins: frozenset[Origin],
        api_key: str | None,
        fallback_authorization: str | None = None,
        config: AnacondaAuthSite | None = None,
        secret_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.domain = domain
        self.api_key = api_key
        self.origins = origins
        self._fallback = fallback_authorization
        self._config = config
        #: ``extra_headers`` whose names are secret (``X-Api-Key``...): for these origins only.
        self.secret_headers: dict[str, str] = dict(secret_headers or {})

    def _load_token(self) -> TokenInfo | None:
        if self._config is None:
            return super()._load_token()
        from anaconda_auth.token import TokenInfo

        # A site with its own keyring_path / preferred_token_storage: its configuration picks
        # the storage; the storage layer still re-reads the store when it changed.
        try:
            return TokenInfo.load(self.domain, config=self._config)
        except TokenNotFoundError:
            return None

    def authorization_for(self, url: str) -> str | None:
        """The ``Authorization`` value for a request to ``url`` (looked up now), or ``None``.

        ``None`` for any origin but the configured ones. Shared with the httpx client
        (``anaconda_auth.async_client``), so both follow one rule.
        """
        if _request_origin(url) not in self.origins:
            log.debug("not sending credentials to %s: not a configured origin", url)
            return None
        key = self.current_key()
        if key:
            return f"Bearer {key}"
        return self._fallback

    def credential_headers(self, url: str) -> dict[str, str]:
        """``Authorization`` and the secret extra headers for a request to ``url`` (none for
        other origins). Shared with the httpx client."""
        headers: dict[str, str] = {}
        value = self.authorization_for(url)
        if value:
            headers["Authorization"] = value
        if self.secret_headers and _request_origin(url) in self.origins:
            headers.update(self.secret_headers)
        return headers

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        url = request.url or ""
        value = self.authorization_for(url)
        if value:
            request.headers["Authorization"] = value
        elif self.api_key is None and _request_origin(url) in self.origins:
            self._note_expired_key(request)
        if self.secret_headers and _request_origin(url) in self.origins:
            request.headers.update(self.secret_headers)
        return request

    def _note_expired_key(self, request: PreparedRequest) -> None:
        """No key was sent: when that is because the stored key has expired, say so on the
        request, so that a refusal names the expiry date (:mod:`anaconda_auth.http.responses`)."""
        info = self._stored_token()
        if info is not None and info.api_key and info.expired:
            setattr(request, EXPIRED_KEY_ATTRIBUTE, (self.domain, info.expires_at))
