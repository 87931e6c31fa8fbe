"""The token endpoint: grants in, tokens (or an OAuth error) out; and the user's email."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from anaconda_auth.exceptions import AuthenticationError, InvalidTokenError
from anaconda_auth.http import session as _http
from anaconda_auth.http.auth import BearerAuth
from anaconda_auth.http.text import printable
from anaconda_auth.token_claims import jwt_claims

if TYPE_CHECKING:
    import requests

    from anaconda_auth.flows.discovery import OpenIDConfiguration

log = logging.getLogger(__name__)

#: The scopes every login asks for (``offline_access`` for a refresh token).
SCOPE = "openid email profile offline_access"


class OAuthError(AuthenticationError):
    """The identity provider answered with an OAuth 2 error (``error`` / ``error_description``).

    Neither field can carry a secret (RFC 6749 restricts them to printable ASCII messages the
    provider writes), so both are part of the message, without any terminal escape sequence
    or control character a provider might send anyway.
    """

    def __init__(self, what: str, error: str, description: str | None = None) -> None:
        error = printable(error)
        description = printable(description) if description else description
        self.error = error
        self.description = description
        text = f"{what} failed: {error}"
        if description:
            text += f" ({description})"
        super().__init__(text)


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
                auth=BearerAuth(tokens.access_token),
            )
            if response.status_code == 200:
                email = response.json().get("email")
                if isinstance(email, str) and email:
                    return email
        except (AuthenticationError, ValueError, AttributeError) as exc:
            log.debug("no email from the userinfo endpoint: %s", type(exc).__name__)
    return None
