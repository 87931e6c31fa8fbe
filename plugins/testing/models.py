"""What the local identity provider knows about: users, clients, settings, and the records
its grants keep (authorization codes, refresh tokens, device credentials).

The record classes implement authlib's model mixins so the grants in :mod:`.oauth_server`
can hand them to authlib unchanged. Everything here is plain data; :class:`.state.ProviderState`
holds the live instances behind one lock.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    ClientMixin,
    TokenMixin,
    scope_to_list,
)
from authlib.oauth2.rfc8628 import (  # type: ignore[import-untyped]
    DEVICE_CODE_GRANT_TYPE,
    DeviceCredentialMixin,
)
from authlib.oidc.core.models import (  # type: ignore[import-untyped]
    AuthorizationCodeMixin,
)

PUBLIC_CLIENT_ID = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a"
CONFIDENTIAL_CLIENT_ID = "anaconda-auth-test-confidential"
CONFIDENTIAL_CLIENT_SECRET = "test-client-secret"  # noqa: S105 (test-only, documented)
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/auth/oidc"
SCOPES = ["openid", "email", "profile", "offline_access"]
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}
GRANT_TYPES = ["authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE]
#: Client authentication methods the token, revocation and device endpoints accept.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


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
        # Stable across provider restarts, so a stored token's ``sub`` keeps meaning the user.
        self.id = self.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{self.email}"))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_user_id(self) -> str:
        return self.id


def _is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return parts.scheme == "http" and host in LOOPBACK_HOSTS and not parts.fragment


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
        return self.allow_loopback_redirects and _is_loopback_http(redirect_uri)

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
    #: Seconds; RFC 8628 sends whole seconds, a fraction lets tests poll without waiting.
    device_interval: float = 5
    slow_down_increment: int = 5
    users: list[User] = field(default_factory=lambda: [User("alice@example.com")])
    clients: list[Client] = field(default_factory=default_clients)

    def access_token_lifetime_for(self, grant_type: str) -> int:
        return self.access_token_lifetime_by_grant.get(grant_type, self.access_token_lifetime)


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

    def is_expired(self) -> bool:
        return time.time() > self.expires_at


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
    interval: float
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
    """Case- and punctuation-insensitive form, so ``abcd-efgh`` matches ``ABCDEFGH``."""
    return "".join(c for c in user_code.upper() if c.isalnum())
