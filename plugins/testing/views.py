"""What the provider's view groups share: its state, the authlib server, and the request
helpers every page or API needs (Bearer tokens, the signed-in browser, the login form).

A view group is a class whose ``ROUTES`` name its views; :meth:`Views.register` adds them to
the Flask app under explicit endpoint names, which are the names faults and
``IdentityProvider.requests_to`` use (Flask blueprints would prefix them).
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar, NamedTuple

from anaconda_auth.plugins.testing.faults import Faults
from anaconda_auth.plugins.testing.models import Settings, User
from anaconda_auth.plugins.testing.oauth_server import ProviderServer
from anaconda_auth.plugins.testing.state import ProviderState
from flask import Flask, render_template, request, session
from flask.typing import ResponseReturnValue

#: Kinds of Bearer credential: an access token (``typ: at+jwt``) or an API key.
ACCESS = "access"
API_KEY = "api_key"
#: Session key of the signed-in user's email.
SESSION_USER = "user"


class Route(NamedTuple):
    rule: str
    endpoint: str
    view: str
    methods: tuple[str, ...] = ("GET",)


class Views:
    """Base of the view groups."""

    ROUTES: ClassVar[tuple[Route, ...]] = ()

    def __init__(self, state: ProviderState, server: ProviderServer, faults: Faults) -> None:
        self.state = state
        self.server = server
        self.faults = faults

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def register(self, app: Flask) -> None:
        for route in self.ROUTES:
            view = getattr(self, route.view)
            app.add_url_rule(route.rule, route.endpoint, view, methods=list(route.methods))

    # -- credentials ------------------------------------------------------------------------

    def bearer_claims(self, *kinds: str) -> dict[str, Any] | None:
        """Claims of a valid Bearer token of one of ``kinds`` (:data:`ACCESS`, :data:`API_KEY`)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        verified = self.state.verify(token.strip())
        if verified is None:
            return None
        header, claims = verified
        kind = ACCESS if header.get("typ") == "at+jwt" else API_KEY
        return claims if kind in kinds else None

    def bearer_user(self, *kinds: str) -> tuple[dict[str, Any], User] | None:
        """Claims and user of a valid Bearer token whose subject is a known user."""
        claims = self.bearer_claims(*kinds)
        user = self.state.user_by_id(claims.get("sub")) if claims else None
        if claims is None or user is None:
            return None
        return claims, user

    def session_user(self) -> User | None:
        """The user signed in through the login form in this browser, if any."""
        email = session.get(SESSION_USER)
        return self.state.find_user(email) if isinstance(email, str) else None

    def sign_in(self, user: User) -> None:
        session[SESSION_USER] = user.email

    def check_login(self) -> User | None:
        """The user whose username and password the posted form carries."""
        user = self.state.find_user(request.form.get("username", ""))
        password = request.form.get("password", "")
        if user is None or not secrets.compare_digest(user.password, password):
            return None
        return user

    # -- pages ------------------------------------------------------------------------------

    def message(self, title: str, text: str, status: int = 200) -> ResponseReturnValue:
        return render_template("idp_message.html", title=title, message=text), status
