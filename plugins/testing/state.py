"""The provider's memory: live codes, tokens and devices, and its signing key.

One re-entrant lock guards everything, because werkzeug serves each request in its own
thread while tests change settings and approve devices from theirs.
"""

from __future__ import annotations

import threading
from typing import Any

from anaconda_auth.plugins.testing.models import (
    AuthCode,
    Client,
    DeviceCredential,
    RefreshToken,
    Settings,
    User,
    normalize_user_code,
)
from anaconda_auth.plugins.testing.repo_state import RepoState
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey


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
        #: Organizations and repo tokens (:mod:`.repo_state`).
        self.repo = RepoState()

    def clear(self) -> None:
        with self.lock:
            self.codes.clear()
            self.refresh_tokens.clear()
            self.devices.clear()
            self.revoked_jtis.clear()
            self.minted_api_keys.clear()
            self.repo.clear()

    # -- look-ups -------------------------------------------------------------------------

    def find_user(self, login: str) -> User | None:
        """The user whose email or username is ``login`` (case-insensitive)."""
        login = login.strip().lower()
        for user in self.settings.users:
            if login in (user.email.lower(), user.username.lower()):
                return user
        return None

    def user_by_id(self, user_id: object) -> User | None:
        for user in self.settings.users:
            if user.id == user_id:
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
