"""The Anaconda API of the local identity provider: API keys, the account, and two helpers
for client tests (an echo and a status endpoint), plus the login result pages.

API keys are JWTs signed with the provider's key (``typ: JWT``, ``sub``, ``exp``, ``iat``,
``jti``, ``scopes``, ``tags``, ``ver``). Minting needs an *access token*, as at Anaconda;
``expires_at`` in the body (epoch seconds or ISO 8601, may be in the past) is a test-only
extension. Errors use Anaconda's format: ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from anaconda_auth.plugins.testing.models import User
from anaconda_auth.plugins.testing.views import ACCESS, API_KEY, Route, Views
from flask import jsonify, request
from flask.typing import ResponseReturnValue

ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")


class InvalidRequest(ValueError):
    """A minting request the API answers with 422."""


def auth_required(message: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    return (
        {"error": {"code": "auth_required", "message": message}},
        401,
        {"WWW-Authenticate": 'Bearer realm="anaconda-auth-test"'},
    )


def expiry(value: Any, default_lifetime: int) -> int | None:
    """``expires_at`` of an API-key request: epoch seconds, ISO 8601, or absent."""
    if value is None:
        return int(time.time()) + default_lifetime
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return int(parsed.timestamp())
    return None


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{name} must be a list of strings")
    return value


class AnacondaAPIViews(Views):
    ROUTES = (
        Route("/api/auth/api-keys", "api_keys", "mint_api_key", ("POST",)),
        Route("/api/iam/api-keys", "iam_api_keys", "mint_api_key", ("POST",)),
        Route("/api/account", "account", "account"),
        Route("/app/local-login-success", "login_success", "login_success"),
        Route("/app/local-login-error", "login_error", "login_error"),
        Route("/api/echo", "echo", "echo", ANY_METHOD),
        Route("/api/status/<int:code>", "status", "status", ANY_METHOD),
    )

    # -- API keys ---------------------------------------------------------------------------

    def mint_api_key(self) -> ResponseReturnValue:
        found = self.bearer_user(ACCESS)
        if found is None:
            return auth_required("A valid access token is required to create an API key.")
        _, user = found
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self._invalid("JSON object")
        try:
            scopes = _string_list(body, "scopes")
            tags = _string_list(body, "tags")
        except InvalidRequest as exc:
            return self._invalid(str(exc))
        exp = expiry(body.get("expires_at"), self.settings.api_key_lifetime)
        if exp is None:
            return self._invalid("expires_at must be epoch seconds or ISO 8601")
        jti = str(uuid.uuid4())
        api_key = self._sign_api_key(user, jti, exp, scopes, tags)
        expires_at = dt.datetime.fromtimestamp(exp, tz=dt.timezone.utc).isoformat()
        return (
            jsonify(api_key=api_key, id=jti, scopes=scopes, tags=tags, expires_at=expires_at),
            201,
        )

    def _sign_api_key(
        self, user: User, jti: str, exp: int, scopes: list[str], tags: list[str]
    ) -> str:
        """Sign a key and remember it in ``minted_api_keys``."""
        claims = {
            "iss": self.state.issuer,
            "sub": user.id,
            "iat": int(time.time()),
            "exp": exp,
            "jti": jti,
            "scopes": scopes,
            "tags": tags,
            "ver": "2",
        }
        api_key = self.state.sign(claims)
        with self.state.lock:
            self.state.minted_api_keys.append(
                {"id": jti, "sub": user.id, "email": user.email, "scopes": scopes, "tags": tags}
            )
        return api_key

    @staticmethod
    def _invalid(message: str) -> ResponseReturnValue:
        return jsonify(error={"code": "invalid_request", "message": message}), 422

    # -- account ----------------------------------------------------------------------------

    def account(self) -> ResponseReturnValue:
        """The account of an API key or an access token (one subscription per organization)."""
        from anaconda_auth.plugins.testing.repo_views import subscriptions_of

        found = self.bearer_user(ACCESS, API_KEY)
        if found is None:
            if "Authorization" in request.headers:
                return auth_required("Invalid or expired credentials.")
            return auth_required("Authentication is required.")
        _, user = found
        return jsonify(
            user={
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "username": user.username,
            },
            profile={"is_confirmed": True, "is_disabled": False},
            subscriptions=subscriptions_of(self.state, user),
        )

    # -- login result pages -----------------------------------------------------------------

    def login_success(self) -> ResponseReturnValue:
        return self.message("Logged in", "You are logged in. You can close this window.")

    def login_error(self) -> ResponseReturnValue:
        return self.message("Login failed", "The login did not complete. Try again.")

    # -- helpers for client tests -----------------------------------------------------------

    def echo(self) -> ResponseReturnValue:
        """Method, path, query, headers and JSON body as received, and who sent them."""
        claims = self.bearer_claims(ACCESS, API_KEY)
        return jsonify(
            method=request.method,
            path=request.path,
            query=request.args.to_dict(),
            headers=dict(request.headers.items()),
            json=request.get_json(silent=True) if request.is_json else None,
            authenticated=claims is not None,
            sub=claims.get("sub") if claims else None,
        )

    def status(self, code: int) -> ResponseReturnValue:
        """Answer with ``code``; an error body (code from ``?code=``) from 400 on."""
        body: dict[str, Any] = {"status": code}
        if code >= 400:
            body = {"error": {"code": request.args.get("code", "error"), "message": "as asked"}}
        return jsonify(body), code
