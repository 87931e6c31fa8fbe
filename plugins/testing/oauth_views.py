"""The OpenID Connect and OAuth views: discovery, keys, the authorization endpoint with its
login form, the token, device and revocation endpoints, the device page, userinfo, logout.

The grants themselves are authlib's (:mod:`.oauth_server`); these views decide who approves
what: the login form checks the password; ``auto_approve`` approves at once as the user
named by ``login_hint``, else the signed-in one, else the first user (so a ``$BROWSER`` that
only follows redirects completes a login); a signed-in browser session is approved without
the form unless ``prompt=login``.
"""

from __future__ import annotations

from typing import Any

from anaconda_auth.plugins.testing.models import (
    GRANT_TYPES,
    SCOPES,
    DeviceCredential,
    User,
)
from anaconda_auth.plugins.testing.oauth_server import user_info
from anaconda_auth.plugins.testing.views import ACCESS, Route, Views
from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import OAuth2Error  # type: ignore[import-untyped]
from flask import jsonify, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

WRONG_LOGIN = "Wrong username or password."


def discovery_document(issuer: str) -> dict[str, Any]:
    """The OpenID Provider metadata of a provider at ``issuer``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "device_authorization_endpoint": f"{issuer}/device/code",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "end_session_endpoint": f"{issuer}/logout",
        "revocation_endpoint": f"{issuer}/revoke",
        "jwks_uri": f"{issuer}/jwks.json",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "email", "name", "preferred_username"],
    }


class OAuthViews(Views):
    ROUTES = (
        Route("/.well-known/openid-configuration", "discovery", "discovery"),
        Route("/jwks.json", "jwks", "jwks"),
        Route("/authorize", "authorize", "authorize", ("GET", "POST")),
        Route("/token", "token", "token", ("POST",)),
        Route("/device/code", "device_authorization", "device_authorization", ("POST",)),
        Route("/revoke", "revoke", "revoke", ("POST",)),
        Route("/device", "device", "device", ("GET", "POST")),
        Route("/userinfo", "userinfo", "userinfo", ("GET", "POST")),
        Route("/logout", "logout", "logout", ("GET", "POST")),
    )

    # -- metadata ---------------------------------------------------------------------------

    def discovery(self) -> ResponseReturnValue:
        return jsonify(discovery_document(self.state.issuer))

    def jwks(self) -> ResponseReturnValue:
        return jsonify(self.state.public_jwks())

    # -- authorization endpoint -------------------------------------------------------------

    def authorize(self) -> ResponseReturnValue:
        current = self.session_user()
        try:
            grant = self.server.get_consent_grant(end_user=current)
        except OAuth2Error as error:
            response: ResponseReturnValue = self.server.handle_error_response(None, error)
            return response
        if self.faults.authorize_error:
            return self._injected_error(grant)
        if request.method == "POST":
            return self._submit_login_form(grant)
        if self.settings.auto_approve:
            hinted = self.state.find_user(request.args.get("login_hint", ""))
            return self._approve(grant, hinted or current or self.settings.users[0])
        if current is not None and "login" not in request.args.get("prompt", "").split():
            return self._approve(grant, current)
        return self._login_page(grant, request.args.get("login_hint", ""))

    def _approve(self, grant: Any, user: User | None) -> ResponseReturnValue:
        """Redirect back with a code for ``user``, or with ``access_denied`` for ``None``."""
        response: ResponseReturnValue = self.server.create_authorization_response(
            grant=grant, grant_user=user
        )
        return response

    def _submit_login_form(self, grant: Any) -> ResponseReturnValue:
        if request.form.get("action") == "deny":
            return self._approve(grant, None)
        user = self.check_login()
        if user is None:
            return self._login_page(grant, request.form.get("username", ""), WRONG_LOGIN, 401)
        self.sign_in(user)
        return self._approve(grant, user)

    def _login_page(
        self, grant: Any, username: str, error: str | None = None, status: int = 200
    ) -> ResponseReturnValue:
        page = render_template(
            "idp_login.html",
            action=request.full_path,
            client_id=grant.client.client_id,
            scope=grant.request.scope,
            username=username,
            error=error,
        )
        return page, status

    def _injected_error(self, grant: Any) -> ResponseReturnValue:
        params = [("error", self.faults.authorize_error), ("error_description", "injected")]
        if request.values.get("state"):
            params.append(("state", request.values["state"]))
        return redirect(add_params_to_uri(grant.redirect_uri, params))

    # -- token, device and revocation endpoints (authlib's) ---------------------------------

    def token(self) -> ResponseReturnValue:
        response: ResponseReturnValue = self.server.create_token_response()
        return response

    def device_authorization(self) -> ResponseReturnValue:
        response: ResponseReturnValue = self.server.create_endpoint_response("device_authorization")
        return response

    def revoke(self) -> ResponseReturnValue:
        response: ResponseReturnValue = self.server.create_endpoint_response("revocation")
        return response

    # -- device verification page -----------------------------------------------------------

    def device(self) -> ResponseReturnValue:
        """Enter (or, from ``verification_uri_complete`` with ``auto_approve``, just visit)
        a user code, then allow or deny the device."""
        current = self.session_user()
        user_code = request.values.get("user_code", "").strip()
        if request.method == "GET" and not (self.settings.auto_approve and user_code):
            return self._device_page(user_code, current)
        cred = self.state.device_by_user_code(user_code) if user_code else None
        if cred is None or cred.is_expired():
            return self._device_page(user_code, current, "Unknown or expired code.", 400)
        if request.method == "POST" and request.form.get("action") == "deny":
            self._decide(cred, None)
            return self.message("Access denied", "The device was not connected.")
        if current is None:
            current = self.settings.users[0] if request.method == "GET" else self.check_login()
        if current is None:
            return self._device_page(user_code, None, WRONG_LOGIN, 401)
        self._decide(cred, current)
        return self.message("Device connected", "You can close this window.")

    def _device_page(
        self, user_code: str, current: User | None, error: str | None = None, status: int = 200
    ) -> ResponseReturnValue:
        page = render_template(
            "idp_device.html",
            action="/device",
            user_code=user_code,
            signed_in=current is not None,
            error=error,
        )
        return page, status

    def _decide(self, cred: DeviceCredential, user: User | None) -> None:
        with self.state.lock:
            cred.decision = (user, user is not None)

    # -- userinfo and logout ----------------------------------------------------------------

    def userinfo(self) -> ResponseReturnValue:
        found = self.bearer_user(ACCESS)
        if found is None:
            return (
                jsonify(error="invalid_token"),
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        claims, user = found
        return jsonify(user_info(user, str(claims.get("scope", ""))))

    def logout(self) -> ResponseReturnValue:
        """End the browser session; go to ``post_logout_redirect_uri`` if a client allows it."""
        session.clear()
        target = request.values.get("post_logout_redirect_uri")
        if target and any(c.check_redirect_uri(target) for c in self.settings.clients):
            if request.values.get("state"):
                target = add_params_to_uri(target, [("state", request.values["state"])])
            return redirect(target)
        return self.message("Signed out", "You are signed out of the test provider.")
