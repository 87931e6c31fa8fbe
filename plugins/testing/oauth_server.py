"""The OAuth 2.0 / OpenID Connect side of the local identity provider, on authlib.

The grants are authlib's, subclassed only to store and look things up in the
:class:`.state.ProviderState` that :func:`build_authorization_server` binds to the server:

- authorization code (RFC 6749) with PKCE (RFC 7636): ``S256`` only, and required for
  every client whose ``require_pkce`` is true (the default); a request without a challenge
  or with ``plain`` is answered with an ``invalid_request`` redirect;
- OpenID Connect: an ``id_token`` when the scope has ``openid``;
- refresh tokens (rotated on use), issued only when the scope has ``offline_access``;
- device authorization (RFC 8628) with ``authorization_pending``, ``slow_down`` (a poll
  sooner than the interval; the interval then grows by ``slow_down_increment``),
  ``expired_token`` and ``access_denied``;
- token revocation (RFC 7009) for refresh tokens.

Access tokens are RFC 9068 JWTs (``typ: at+jwt``) signed RS256 with ``sub``, ``email``,
``preferred_username``, ``name``, ``scope``, ``client_id`` and ``exp``.

The models (:mod:`.models`) and the state (:mod:`.state`) are re-exported here, where they
were first published.
"""

from __future__ import annotations

import time
from typing import Any

from anaconda_auth.plugins.testing.models import (
    CLIENT_AUTH_METHODS,
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    GRANT_TYPES,
    LOOPBACK_HOSTS,
    PUBLIC_CLIENT_ID,
    SCOPES,
    AuthCode,
    Client,
    DeviceCredential,
    RefreshToken,
    Settings,
    User,
    default_clients,
    normalize_user_code,
)
from anaconda_auth.plugins.testing.state import ProviderState
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.flask_oauth2 import (  # type: ignore[import-untyped]
    AuthorizationServer,
)
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidRequestError,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oauth2.rfc8628 import (  # type: ignore[import-untyped]
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
)
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oidc.core import UserInfo  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from joserfc.jwk import KeySet

__all__ = [
    "CONFIDENTIAL_CLIENT_ID",
    "CONFIDENTIAL_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URI",
    "GRANT_TYPES",
    "LOOPBACK_HOSTS",
    "PUBLIC_CLIENT_ID",
    "SCOPES",
    "AuthCode",
    "Client",
    "DeviceCredential",
    "ProviderState",
    "RefreshToken",
    "S256Required",
    "Settings",
    "User",
    "build_authorization_server",
    "default_clients",
    "normalize_user_code",
    "user_info",
]


def user_info(user: User, scope: str) -> dict[str, Any]:
    """OpenID claims of ``user`` for ``scope`` (``sub`` always)."""
    scopes = set(scope_to_list(scope or ""))
    info: dict[str, Any] = {"sub": user.id}
    if "email" in scopes:
        info.update(email=user.email, email_verified=True)
    if "profile" in scopes:
        info.update(
            name=user.name,
            given_name=user.first_name,
            family_name=user.last_name,
            preferred_username=user.username,
        )
    return dict(UserInfo(info))


class ProviderServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's Flask server, carrying the state its grants and endpoints work on.

    authlib builds a grant per request and an endpoint per registration, passing them the
    server: the state rides along on it rather than in closures.
    """

    def __init__(self, app: Any, state: ProviderState) -> None:
        self.provider_state = state
        super().__init__(app, query_client=state.find_client, save_token=self._save_token)

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        refresh = token.get("refresh_token")
        if not refresh:
            return
        item = RefreshToken(
            token=refresh,
            client_id=request.client.client_id,
            scope=token.get("scope", ""),
            user=request.user,
            issued_at=time.time(),
            expires_in=self.provider_state.settings.refresh_token_lifetime,
        )
        with self.provider_state.lock:
            self.provider_state.refresh_tokens[refresh] = item


class _OnServerState:
    """For grants and endpoints: the state of the server authlib gave them."""

    server: Any

    @property
    def provider_state(self) -> ProviderState:
        server: ProviderServer = self.server
        return server.provider_state


# -- token generation and extensions ---------------------------------------------------------


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens with the provider's key, issuer and lifetimes; a refresh token
    only when the scope asks for ``offline_access``."""

    def __init__(self, state: ProviderState) -> None:
        self._state = state
        super().__init__(
            issuer="",
            alg="RS256",
            refresh_token_generator=lambda **kw: generate_token(48),
            expires_generator=lambda client, grant_type: state.settings.access_token_lifetime_for(
                grant_type
            ),
        )

    # The issuer is known only once the server listens: read it live, ignore authlib's set.
    @property
    def issuer(self) -> str:
        return self._state.issuer

    @issuer.setter
    def issuer(self, value: str) -> None:
        pass

    def get_jwks(self) -> KeySet:
        return self._state.keys

    def get_extra_claims(self, client: Client, grant_type: str, user: User, scope: str) -> Any:
        if user is None:
            return {}
        return {"email": user.email, "preferred_username": user.username, "name": user.name}

    def generate(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> Any:
        offline = "offline_access" in scope_to_list(scope or "")
        return super().generate(
            grant_type, client, user, scope, expires_in, include_refresh_token and offline
        )


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE with ``S256`` only; required for clients whose ``require_pkce`` is true.

    authlib alone accepts a missing challenge and defaults the method to ``plain``.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        client = grant.request.client
        data = grant.request.payload.data
        if getattr(client, "require_pkce", True):
            if not data.get("code_challenge"):
                raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("PKCE is required with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDConnect(OpenIDCode):  # type: ignore[misc]
    """``id_token`` issuance for the authorization code grant."""

    def __init__(self, state: ProviderState) -> None:
        super().__init__()
        self._state = state

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        with self._state.lock:
            return any(c.nonce == nonce for c in self._state.codes.values())

    def resolve_client_private_key(self, client: Client) -> KeySet:
        return self._state.keys

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self._state.issuer, "aud": [client.client_id]}

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256"}

    def generate_user_info(self, user: User, scope: str) -> Any:
        return user_info(user, scope)


# -- grants ----------------------------------------------------------------------------------


class AuthorizationCodeGrant(_OnServerState, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        item = AuthCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            nonce=data.get("nonce"),
            auth_time=int(time.time()),
            expires_at=time.time() + self.provider_state.settings.code_lifetime,
        )
        with self.provider_state.lock:
            self.provider_state.codes[code] = item

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        with self.provider_state.lock:
            item = self.provider_state.codes.get(code)
        if item is None or item.client_id != client.client_id or item.is_expired():
            return None
        return item

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        with self.provider_state.lock:
            self.provider_state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return authorization_code.user


class RefreshTokenGrant(_OnServerState, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        with self.provider_state.lock:
            item = self.provider_state.refresh_tokens.get(refresh_token)
        if item is None or item.revoked or item.is_expired():
            return None
        return item

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        with self.provider_state.lock:
            refresh_token.revoked = True


class DeviceGrant(_OnServerState, DeviceCodeGrant):  # type: ignore[misc]
    def query_device_credential(self, device_code: str) -> DeviceCredential | None:
        with self.provider_state.lock:
            return self.provider_state.devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[User | None, bool] | None:
        cred = self.provider_state.device_by_user_code(user_code)
        if cred is None:
            return None
        with self.provider_state.lock:
            decision = cred.decision
            if decision is not None and decision[1]:
                # A device code is good for one token response.
                self.provider_state.devices.pop(cred.device_code, None)
            return decision

    def should_slow_down(self, credential: DeviceCredential) -> bool:
        now = time.monotonic()
        with self.provider_state.lock:
            previous, credential.last_poll = credential.last_poll, now
            credential.polls += 1
            if previous is not None and now - previous < credential.interval:
                credential.interval += self.provider_state.settings.slow_down_increment
                return True
        return False


# -- endpoints -------------------------------------------------------------------------------


class DeviceAuthorization(_OnServerState, DeviceAuthorizationEndpoint):  # type: ignore[misc]
    @property
    def EXPIRES_IN(self) -> int:  # noqa: N802 (authlib's name)
        return self.provider_state.settings.device_code_lifetime

    @property
    def INTERVAL(self) -> float:  # noqa: N802 (authlib's name)
        return self.provider_state.settings.device_interval

    def get_verification_uri(self) -> str:
        return f"{self.provider_state.issuer}/device"

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        cred = DeviceCredential(
            device_code=data["device_code"],
            user_code=data["user_code"],
            client_id=client_id,
            scope=scope or "",
            expires_at=time.time() + data["expires_in"],
            interval=data["interval"],
        )
        settings = self.provider_state.settings
        if settings.device_auto_approve:
            cred.decision = (settings.users[0], True)
        with self.provider_state.lock:
            self.provider_state.devices[cred.device_code] = cred


class Revocation(_OnServerState, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> RefreshToken | None:
        with self.provider_state.lock:
            return self.provider_state.refresh_tokens.get(token_string)

    def revoke_token(self, token: RefreshToken, request: Any) -> None:
        with self.provider_state.lock:
            token.revoked = True


def build_authorization_server(app: Any, state: ProviderState) -> ProviderServer:
    """An authlib ``AuthorizationServer`` bound to ``app`` and ``state``."""
    server = ProviderServer(app, state)
    server.register_token_generator("default", TokenGenerator(state))
    server.register_grant(
        AuthorizationCodeGrant, [S256Required(required=True), OpenIDConnect(state)]
    )
    server.register_grant(RefreshTokenGrant)
    server.register_grant(DeviceGrant)
    server.register_endpoint(DeviceAuthorization)
    server.register_endpoint(Revocation)
    return server
