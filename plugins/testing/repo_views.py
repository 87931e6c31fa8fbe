"""The repository-token API of Anaconda, as anaconda-auth 0.15's ``RepoAPIClient`` calls it.

=================================================  ========================================
``GET /api/organizations/my``                      the user's organizations (``organizations``)
``GET /api/organizations/<org>/ce/current-token``  the current token's id and expiry, or 404
                                                   (``repo_token``)
``PUT /api/organizations/<org>/ce/current-token``  issue a new token, revoking the old one;
                                                   the body must be ``{"confirm": "yes"}``
``GET /api/auth/oauth2/userinfo``                  ``organization_features`` (``org_features``)
=================================================  ========================================

All need an API key or an access token (Bearer) of a member of the organization.
"""

from __future__ import annotations

from typing import Any

from anaconda_auth.plugins.testing.api_views import auth_required
from anaconda_auth.plugins.testing.models import User
from anaconda_auth.plugins.testing.views import ACCESS, API_KEY, Route, Views
from flask import jsonify, request
from flask.typing import ResponseReturnValue


def subscriptions_of(state: Any, user: User) -> list[dict[str, Any]]:
    """``subscriptions`` of ``/api/account``: one per organization of ``user``."""
    return [
        {"org_id": org.id, "product_code": org.product_code}
        for org in state.repo.organizations_of(user.email)
    ]


class RepoAPIViews(Views):
    ROUTES = (
        Route("/api/organizations/my", "organizations", "organizations"),
        Route(
            "/api/organizations/<org>/ce/current-token",
            "repo_token",
            "repo_token",
            ("GET", "PUT"),
        ),
        Route("/api/auth/oauth2/userinfo", "org_features", "org_features"),
    )

    def _user(self) -> User | None:
        found = self.bearer_user(ACCESS, API_KEY)
        return found[1] if found else None

    def organizations(self) -> ResponseReturnValue:
        user = self._user()
        if user is None:
            return auth_required("Authentication is required.")
        orgs = self.state.repo.organizations_of(user.email)
        return jsonify([{"id": o.id, "name": o.name, "title": o.title} for o in orgs])

    def repo_token(self, org: str) -> ResponseReturnValue:
        user = self._user()
        if user is None:
            return auth_required("Authentication is required.")
        organization = self.state.repo.organizations.get(org)
        if organization is None or not organization.has_member(user.email):
            return jsonify(error={"code": "not_found", "message": "No such organization"}), 404
        if request.method == "GET":
            current = self.state.repo.current.get(org)
            if current is None:
                return jsonify(error={"code": "not_found", "message": "No token"}), 404
            return jsonify(id=current.id, expires_at=current.expires_at.isoformat())
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("confirm") != "yes":
            message = 'The body must be {"confirm": "yes"}'
            return jsonify(error={"code": "invalid_request", "message": message}), 422
        issued = self.state.repo.issue(org)
        return jsonify(token=issued.token, expires_at=issued.expires_at.isoformat())

    def org_features(self) -> ResponseReturnValue:
        user = self._user()
        if user is None:
            return auth_required("Authentication is required.")
        features = [
            {"org": o.name, "features": list(o.features)}
            for o in self.state.repo.organizations_of(user.email)
        ]
        return jsonify(sub=user.id, email=user.email, organization_features=features)
