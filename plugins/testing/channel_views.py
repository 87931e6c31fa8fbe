"""A conda channel that, like Anaconda's repository, lets in only valid credentials.

``/repo/<channel>/<subdir>/repodata.json`` and ``.../hello-anaconda-1.0-0.tar.bz2`` (see
:mod:`.conda_package`), for any channel name (``main``, ``r``, ``<org>/<channel>``...), also
under ``/t/<token>/repo/...`` (conda's token-in-path form). Accepted credentials:

- a current repo token (:mod:`.repo_state`) in the path or as ``Authorization: token <t>``;
- an API key or access token of this provider as ``Authorization: Bearer <key>``.

When the first path segment names a known organization, the token must be that
organization's (and a Bearer user must be a member). No credential: 401; a refused one: 403,
each with an error body. Other files (``current_repodata.json``, ``.zst``...): 404.
"""

from __future__ import annotations

from anaconda_auth.plugins.testing import conda_package
from anaconda_auth.plugins.testing.views import ACCESS, API_KEY, Route, Views
from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue


def _error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error={"code": code, "message": message}), status


class ChannelViews(Views):
    ROUTES = (
        Route("/repo/<path:rest>", "channel", "channel"),
        Route("/t/<token>/repo/<path:rest>", "channel_t", "channel_with_token"),
    )

    def channel_with_token(self, token: str, rest: str) -> ResponseReturnValue:
        return self._serve(rest, token)

    def channel(self, rest: str) -> ResponseReturnValue:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "token" else None
        return self._serve(rest, token)

    def _allowed(self, org_name: str | None, token: str | None) -> bool | None:
        """True/False for a credential accepted/refused; None when there is none."""
        if token:
            issued = self.state.repo.find(token)
            return issued is not None and (org_name is None or issued.org_name == org_name)
        if "Authorization" not in request.headers:
            return None
        found = self.bearer_user(ACCESS, API_KEY)
        if found is None:
            return False
        org = self.state.repo.organizations.get(org_name) if org_name else None
        return org is None or org.has_member(found[1].email)

    def _serve(self, rest: str, token: str | None) -> ResponseReturnValue:
        parts = rest.strip("/").split("/")
        if len(parts) < 3:
            return _error(404, "not_found", "Not a channel file")
        org_name = parts[0] if parts[0] in self.state.repo.organizations else None
        allowed = self._allowed(org_name, token)
        if allowed is None:
            return _error(401, "auth_required", "A token or API key is required")
        if not allowed:
            return _error(403, "forbidden", "The credential is not valid for this channel")
        subdir, filename = parts[-2], parts[-1]
        if subdir not in conda_package.SUBDIRS:
            return _error(404, "not_found", "Unknown subdir")
        if filename == "repodata.json":
            return jsonify(conda_package.repodata(subdir))
        if subdir == "noarch" and filename == conda_package.FILENAME:
            return Response(conda_package.package_bytes(), mimetype="application/x-tar")
        return _error(404, "not_found", "No such file")
