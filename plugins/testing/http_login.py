"""Logging in to the provider over HTTP, as a client would: the login form, the code
redirect, the PKCE code exchange, and ``POST /api/auth/api-keys``.

``IdentityProvider.get_tokens`` and ``mint_api_key`` use these, so tokens and keys that
fixtures hand out went through the real endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from requests import Session

DEFAULT_API_KEY_SCOPES = ["cloud:read", "cloud:write", "repo:read"]
DEFAULT_API_KEY_TAGS = ["anaconda-auth-testing"]
#: Never listened on: the code is read from the redirect's ``Location``, not delivered.
UNREACHABLE_REDIRECT_URI = "http://127.0.0.1:1/callback"
TIMEOUT = 30


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its ``S256`` challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_for_tokens(
    session: Session, url: str, email: str, password: str, *, scope: str, client_id: str
) -> dict[str, Any]:
    """The token response of a login as ``email`` at the provider at ``url``."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": UNREACHABLE_REDIRECT_URI,
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    r = session.post(
        f"{url}/authorize?{urlencode(params)}",
        data={"username": email, "password": password, "action": "approve"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    code = parse_qs(urlsplit(r.headers.get("Location", "")).query).get("code", [""])[0]
    if r.status_code != 302 or not code:
        raise RuntimeError(f"login failed: HTTP {r.status_code}")
    r = session.post(
        f"{url}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": UNREACHABLE_REDIRECT_URI,
            "code_verifier": verifier,
        },
        timeout=TIMEOUT,
    )
    if r.status_code != 200:
        raise RuntimeError(f"code exchange failed: HTTP {r.status_code}")
    result: dict[str, Any] = r.json()
    return result


def create_api_key(
    session: Session,
    url: str,
    access_token: str,
    *,
    lifetime: float | None,
    scopes: list[str] | None,
    tags: list[str] | None,
) -> str:
    """A new API key from ``POST /api/auth/api-keys``; ``lifetime`` in seconds from now."""
    body: dict[str, Any] = {
        "scopes": DEFAULT_API_KEY_SCOPES if scopes is None else scopes,
        "tags": DEFAULT_API_KEY_TAGS if tags is None else tags,
    }
    if lifetime is not None:
        body["expires_at"] = int(time.time() + lifetime)
    r = session.post(
        f"{url}/api/auth/api-keys",
        json=body,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    if r.status_code != 201:
        raise RuntimeError(f"API key creation failed: HTTP {r.status_code}")
    api_key: str = r.json()["api_key"]
    return api_key
