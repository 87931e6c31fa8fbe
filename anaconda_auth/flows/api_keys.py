"""Turning a login's access token into a long-lived API key.

POST ``{"scopes": [...], "tags": ["anaconda-auth/v<version>"]}`` with the access token as
Bearer to ``https://{auth_domain}/api/auth/api-keys``; when that endpoint does not exist there
(HTTP 404 or 405), to ``https://{domain}/api/iam/api-keys``. Success is HTTP 201 with
``{"api_key": "..."}`` and nothing else. Connection errors, timeouts and 5xx are reported, not
retried elsewhere: the first server may already have created a key, and a second try would
leave an orphan key behind.

The request carries the client headers every :class:`~anaconda_auth.client.BaseClient`
request carries (``User-Agent``, ``X-Client-Hostname`` hashed unless ``hash_hostname = false``,
the configured ``extra_headers``) and, when anaconda-anon-usage is installed, its client token
as ``X-AAU-CLIENT`` (the site's ``aau_token`` property), as anaconda-auth 0.15 sent it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from anaconda_auth._version import __version__
from anaconda_auth.exceptions import AuthenticationError
from anaconda_auth.http import session as _http
from anaconda_auth.http.auth import BearerAuth
from anaconda_auth.http.hostname import client_hostname

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite

log = logging.getLogger(__name__)

API_KEY_SCOPES = ["cloud:read", "cloud:write", "repo:read"]
FALLBACK_STATUSES = frozenset({404, 405})


class APIKeyError(AuthenticationError):
    """The API key could not be created."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_key_urls(config: AnacondaAuthSite) -> list[str]:
    """Where to ask for an API key, in order."""
    return [
        f"https://{config.auth_domain}/api/auth/api-keys",
        f"https://{config.domain}/api/iam/api-keys",
    ]


#: Headers the mint request sets itself; ``extra_headers`` never replace them.
_OWN_HEADERS = frozenset({"authorization", "user-agent", "x-client-hostname", "x-aau-client"})


def client_headers(config: AnacondaAuthSite) -> dict[str, str]:
    """The client headers of the mint request (besides the session's ``User-Agent``)."""
    headers = {
        name: value
        for name, value in (config.extra_headers or {}).items()
        if name.lower() not in _OWN_HEADERS
    }
    headers["Accept"] = "application/json"
    headers["X-Client-Hostname"] = client_hostname(config.hash_hostname)
    token = config.aau_token  # a property: patching it on the class changes the header
    if token is not None:
        headers["X-AAU-CLIENT"] = token
    return headers


def mint_api_key(config: AnacondaAuthSite, access_token: str, session: _http.LoginSession) -> str:
    """A new API key for the user of ``access_token``; :class:`APIKeyError` if none was made."""
    what = "Creating an API key"
    payload = {"scopes": API_KEY_SCOPES, "tags": [f"anaconda-auth/v{__version__}"]}
    urls = api_key_urls(config)
    headers = client_headers(config)
    for index, url in enumerate(urls):
        response = _http.send(
            session,
            "POST",
            url,
            what=what,
            json=payload,
            auth=BearerAuth(access_token),
            headers=headers,
        )
        status = response.status_code
        if status in FALLBACK_STATUSES and index + 1 < len(urls):
            log.debug("%s: %s answered HTTP %s, trying %s", what, url, status, urls[index + 1])
            continue
        if status != 201:
            detail = _http.error_detail(response)
            raise APIKeyError(
                f"{what} failed: {url} returned HTTP {status}"
                + (f" ({detail})" if detail else "")
                + " (expected 201). You are not logged in; nothing was stored.",
                status=status,
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        api_key = data.get("api_key") if isinstance(data, dict) else None
        if not isinstance(api_key, str) or not api_key:
            raise APIKeyError(
                f"{what} failed: {url} answered HTTP 201 without an api_key. You are not "
                "logged in; nothing was stored.",
                status=status,
            )
        log.debug("%s: new API key from %s", what, url)
        return api_key
    raise AssertionError("unreachable")  # pragma: no cover
