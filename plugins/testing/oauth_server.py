"""The OAuth 2.0 / OpenID Connect side of the local identity provider, on authlib.

Models (users, clients, codes, tokens, device credentials) live in memory in a
:class:`ProviderState` guarded by one lock; the grants are authlib's, subclassed only to
store and look things up:

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
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.flask_oauth2 import (  # type: ignore[import-untyped]
    AuthorizationServer,
)
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    ClientMixin,
    InvalidRequestError,
    TokenMixin,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oauth2.rfc8628 import (  # type: ignore[import-untyped]
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialMixin,
)
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oidc.core import UserInfo  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from authlib.oidc.core.models import (  # type: ignore[import-untyped]
    AuthorizationCodeMixin,
)
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

PUBLIC_CLIENT_ID = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a"
CONFIDENTIAL_CLIENT_ID = "anaconda-auth-test-confidential"
CONFIDENTIAL_CLIENT_SECRET = "test-client-secret"  # noqa: S105 (test-only, documented)
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/auth/oidc"
SCOPES = ["openid", "email", "profile", "offline_access"]
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}
GRANT_TYPES = ["authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE]


@dataclass
class User:
    """A resource owner; ``password`` is what the HTML login form checks."""

    email: str
    password: str = "password"  # noqa: S107 (test-only)
    first_name: str = "Alice"
    last_name: str = "Example"
    username: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        self.username = self.username or self.email.split("@")[0]
        self.id = self.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{self.email}"))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_user_id(self) -> str:
        return self.id


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """A registered OAuth client.

    ``token_endpoint_auth_methods`` is ``("none",)`` for a public client, or any of
    ``client_secret_basic`` / ``client_secret_post`` for a confidential one.

    Redirect URIs: an exact match with one of ``redirect_uris``, or, when
    ``allow_loopback_redirects`` (the default), any ``http`` URI on a loopback host
    (127.0.0.1, [::1], localhost) with any port and any path. RFC 8252 §7.3 requires any
    port for loopback redirects; any path is a test convenience so applications can use their
    own callback routes. The code exchange must still repeat the exact URI (RFC 6749 §4.1.3).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uris: list[str] = field(default_factory=lambda: [DEFAULT_REDIRECT_URI])
    token_endpoint_auth_methods: tuple[str, ...] = ("none",)
    grant_types: tuple[str, ...] = tuple(GRANT_TYPES)
    scope: str = " ".join(SCOPES)
    require_pkce: bool = True
    allow_loopback_redirects: bool = True

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.redirect_uris:
            return True
        if not self.allow_loopback_redirects:
            return False
        parts = urlsplit(redirect_uri)
        host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
        return parts.scheme == "http" and host in LOOPBACK_HOSTS and not parts.fragment

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.token_endpoint_auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def default_clients() -> list[Client]:
    return [
        Client(client_id=PUBLIC_CLIENT_ID),
        Client(
            client_id=CONFIDENTIAL_CLIENT_ID,
            client_secret=CONFIDENTIAL_CLIENT_SECRET,
            token_endpoint_auth_methods=("client_secret_basic", "client_secret_post"),
        ),
    ]


@dataclass
class Settings:
    """Behaviour of the provider; every field can be changed on a running server."""

    auto_approve: bool = False
    device_auto_approve: bool = False
    access_token_lifetime: int = 3600
    #: Per grant type (e.g. ``{"refresh_token": 3600}``), overriding ``access_token_lifetime``.
    access_token_lifetime_by_grant: dict[str, int] = field(default_factory=dict)
    refresh_token_lifetime: int = 30 * 24 * 3600
    api_key_lifetime: int = 30 * 24 * 3600
    code_lifetime: int = 300
    device_code_lifetime: int = 600
    device_interval: int = 5
    slow_down_increment: int = 5
    users: list[User] = field(default_factory=lambda: [User("alice@example.com")])
    clients: list[Client] = field(default_factory=default_clients)


@dataclass
class AuthCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


@dataclass
class RefreshToken(TokenMixin):  # type: ignore[misc]
    token: str = field(repr=False)
    client_id: str
    scope: str
    user: User
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> str:
        return self.client_id


@dataclass
class DeviceCredential(DeviceCredentialMixin):  # type: ignore[misc]
    device_code: str = field(repr=False)
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int
    last_poll: float | None = None
    polls: int = 0
    #: ``None`` while pending, then ``(user, True)`` approved or ``(None, False)`` denied.
    decision: tuple[User | None, bool] | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


def normalize_user_code(user_code: str) -> str:
    return "".join(c for c in user_code.upper() if c.isalnum())


class ProviderState:
    """Everything the provider remembers, behind one re-entrant lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = ""
        self.lock = threading.RLock()
        key = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, private=True)
        key.ensure_kid()
        self.keys = KeySet([key])
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.devices: dict[str, DeviceCredential] = {}
        self.revoked_jtis: set[str] = set()
        self.minted_api_keys: list[dict[str, Any]] = []

    def clear(self) -> None:
        with self.lock:
            self.codes.clear()
            self.refresh_tokens.clear()
            self.devices.clear()
            self.revoked_jtis.clear()
            self.minted_api_keys.clear()

    # -- look-ups -------------------------------------------------------------------------

    def find_user(self, login: str) -> User | None:
        login = login.strip().lower()
        for user in self.settings.users:
            if login in (user.email.lower(), user.username.lower()):
                return user
        return None

    def find_client(self, client_id: str) -> Client | None:
        for client in self.settings.clients:
            if client.client_id == client_id:
                return client
        return None

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.keys.as_dict(private=False))

    def device_by_user_code(self, user_code: str) -> DeviceCredential | None:
        wanted = normalize_user_code(user_code)
        with self.lock:
            for cred in self.devices.values():
                if normalize_user_code(cred.user_code) == wanted:
                    return cred
        return None

    # -- JWTs -----------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        return jwt.encode({"alg": "RS256", "typ": typ}, claims, self.keys, algorithms=["RS256"])

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(header, claims)`` of a token this provider signed and that is still valid."""
        try:
            decoded = jwt.decode(token, self.keys, algorithms=["RS256"])
            registry = jwt.JWTClaimsRegistry(
                exp={"essential": True}, iss={"essential": True, "value": self.issuer}
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        claims = dict(decoded.claims)
        if claims.get("jti") in self.revoked_jtis:
            return None
        return dict(decoded.header), claims


# -- authlib grants and endpoints ------------------------------------------------------------


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE with ``S256`` only; required for clients whose ``require_pkce`` is true."""

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


def build_authorization_server(app: Any, state: ProviderState) -> Any:
    """An authlib ``AuthorizationServer`` bound to ``app`` and ``state``."""

    class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(
                issuer="",
                alg="RS256",
                refresh_token_generator=lambda **kw: generate_token(48),
                expires_generator=lambda client, grant_type: (
                    state.settings.access_token_lifetime_by_grant.get(
                        grant_type, state.settings.access_token_lifetime
                    )
                ),
            )

        @property
        def issuer(self) -> str:
            return state.issuer

        @issuer.setter
        def issuer(self, value: str) -> None:
            pass

        def get_jwks(self) -> KeySet:
            return state.keys

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

    class OIDC(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            with state.lock:
                return any(c.nonce == nonce for c in state.codes.values())

        def resolve_client_private_key(self, client: Client) -> KeySet:
            return state.keys

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": state.issuer, "aud": [client.client_id]}

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256"}

        def generate_user_info(self, user: User, scope: str) -> Any:
            return user_info(user, scope)

    class AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

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
                expires_at=time.time() + state.settings.code_lifetime,
            )
            with state.lock:
                state.codes[code] = item

        def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
            with state.lock:
                item = state.codes.get(code)
            if item is None or item.client_id != client.client_id:
                return None
            if time.time() > item.expires_at:
                return None
            return item

        def delete_authorization_code(self, authorization_code: AuthCode) -> None:
            with state.lock:
                state.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: AuthCode) -> User:
            return authorization_code.user

    class Refresh(grants.RefreshTokenGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
        INCLUDE_NEW_REFRESH_TOKEN = True

        def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
            with state.lock:
                item = state.refresh_tokens.get(refresh_token)
            if item is None or item.revoked or item.is_expired():
                return None
            return item

        def authenticate_user(self, refresh_token: RefreshToken) -> User:
            return refresh_token.user

        def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
            with state.lock:
                refresh_token.revoked = True

    class DeviceCode(DeviceCodeGrant):  # type: ignore[misc]
        def query_device_credential(self, device_code: str) -> DeviceCredential | None:
            with state.lock:
                return state.devices.get(device_code)

        def query_user_grant(self, user_code: str) -> tuple[User | None, bool] | None:
            cred = state.device_by_user_code(user_code)
            if cred is None:
                return None
            with state.lock:
                decision = cred.decision
                if decision is not None and decision[1]:
                    # A device code is good for one token response.
                    state.devices.pop(cred.device_code, None)
                return decision

        def should_slow_down(self, credential: DeviceCredential) -> bool:
            now = time.monotonic()
            with state.lock:
                previous, credential.last_poll = credential.last_poll, now
                credential.polls += 1
                if previous is not None and now - previous < credential.interval:
                    credential.interval += state.settings.slow_down_increment
                    return True
            return False

    class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
        @property
        def EXPIRES_IN(self) -> int:  # noqa: N802 (authlib's name)
            return state.settings.device_code_lifetime

        @property
        def INTERVAL(self) -> int:  # noqa: N802 (authlib's name)
            return state.settings.device_interval

        def get_verification_uri(self) -> str:
            return f"{state.issuer}/device"

        def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
            cred = DeviceCredential(
                device_code=data["device_code"],
                user_code=data["user_code"],
                client_id=client_id,
                scope=scope or "",
                expires_at=time.time() + data["expires_in"],
                interval=data["interval"],
            )
            if state.settings.device_auto_approve:
                cred.decision = (state.settings.users[0], True)
            with state.lock:
                state.devices[cred.device_code] = cred

    class Revocation(RevocationEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def query_token(
            self, token_string: str, token_type_hint: str | None
        ) -> RefreshToken | None:
            with state.lock:
                return state.refresh_tokens.get(token_string)

        def revoke_token(self, token: RefreshToken, request: Any) -> None:
            with state.lock:
                token.revoked = True

    def save_token(token: dict[str, Any], request: Any) -> None:
        refresh = token.get("refresh_token")
        if not refresh:
            return
        item = RefreshToken(
            token=refresh,
            client_id=request.client.client_id,
            scope=token.get("scope", ""),
            user=request.user,
            issued_at=time.time(),
            expires_in=state.settings.refresh_token_lifetime,
        )
        with state.lock:
            state.refresh_tokens[refresh] = item

    server = AuthorizationServer(app, query_client=state.find_client, save_token=save_token)
    server.register_token_generator("default", TokenGenerator())
    server.register_grant(AuthorizationCode, [S256Required(required=True), OIDC()])
    server.register_grant(Refresh)
    server.register_grant(DeviceCode)
    server.register_endpoint(DeviceAuthorization)
    server.register_endpoint(Revocation)
    return server


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
