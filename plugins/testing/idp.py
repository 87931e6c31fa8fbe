"""A local OpenID Connect identity provider for testing anaconda-auth and what builds on it.

It serves the wire contract of Anaconda's auth service over HTTPS on 127.0.0.1, with a
throwaway CA (:mod:`.ca`), on authlib (:mod:`.oauth_server`) and Flask, in a background
thread of werkzeug's threaded server::

    with IdentityProvider(auto_approve=True) as idp:
        idp.domain      # "127.0.0.1:<port>"  -> ANACONDA_AUTH_DOMAIN
        idp.url         # "https://127.0.0.1:<port>"
        idp.ca_path     # CA bundle           -> ANACONDA_AUTH_SSL_VERIFY
        idp.env()       # both, as a dict of environment variables

Endpoints (see the discovery document for the full list):

=========================================  ===================================================
``GET /.well-known/openid-configuration``  discovery (view name ``discovery``)
``GET /jwks.json``                         signing keys (``jwks``)
``GET|POST /authorize``                    authorization code + PKCE S256; HTML login form,
                                           or immediate approval when ``auto_approve``
                                           (``authorize``)
``POST /token``                            authorization_code, refresh_token, device_code
                                           (``token``)
``POST /device/code``                      RFC 8628 device authorization
                                           (``device_authorization``)
``GET|POST /device``                       device verification page (``device``)
``GET|POST /userinfo``                     OpenID userinfo (``userinfo``)
``POST /revoke``                           RFC 7009 refresh-token revocation (``revoke``)
``GET|POST /logout``                       end session; ``post_logout_redirect_uri``
                                           (``logout``)
``POST /api/auth/api-keys``                mint an API key (``api_keys``)
``POST /api/iam/api-keys``                 the same, at the fallback path (``iam_api_keys``)
``GET /api/account``                       the account of an API key / access token
                                           (``account``)
``ANY /api/echo``                          echoes method, path, query, headers, JSON body
                                           (``echo``)
``ANY /api/status/<code>``                 answers with that status and a JSON body
                                           (``status``)
=========================================  ===================================================

Users and clients: ``alice@example.com`` with password ``password`` (change with
``settings.users`` / :meth:`IdentityProvider.add_user`); the public client
``b4ad7f1d-c784-46b5-a9fe-106e50441f5a`` (auth method ``none``) and the confidential client
``anaconda-auth-test-confidential`` / ``test-client-secret`` (``client_secret_basic`` or
``client_secret_post``); add more with :meth:`IdentityProvider.add_client`. Redirect URIs:
registered ones exactly, plus any ``http`` loopback URI (any port, any path: RFC 8252 §7.3
plus a convenience; see :class:`.oauth_server.Client`).

Approval: the login form at ``/authorize`` checks the password; ``auto_approve`` approves at
once as the user named by ``login_hint``, else the first user (so a ``$BROWSER`` that only
follows redirects completes a login). A signed-in browser session (cookie) is approved
without the form unless ``prompt=login``; ``/logout`` ends it. Device codes are approved on
the ``/device`` page, by :meth:`IdentityProvider.approve_device` /
:meth:`~IdentityProvider.deny_device`, on a visit of ``verification_uri_complete`` when
``auto_approve``, or at issue when ``device_auto_approve``.

Fault injection (``idp.faults``, thread-safe, cleared by :meth:`IdentityProvider.reset`);
endpoints are named by the view names above:

- ``faults.status["token"] = 500``: answer with that status and an error body before doing
  anything; a 2xx status instead runs the endpoint and replaces its status (e.g.
  ``faults.api_key_status = 200``). Shortcuts: ``discovery_status``, ``token_status``,
  ``device_authorization_status``, ``account_status``, ``api_key_status`` (both API-key
  paths);
- ``faults.invalid_json.add("discovery")``: a 200 whose body is not JSON;
- ``faults.delay["token"] = 5.0``: sleep before answering (for client timeouts);
- ``faults.authorize_error = "access_denied"``: the authorization endpoint redirects back at
  once with that error (and the right ``state``);
- ``faults.wrong_state = True``: the authorization redirect carries a different ``state``;
- ``faults.response_headers["Min-Api-Version"] = "2099.01.01"``: added to every response.

Every request is recorded (:attr:`IdentityProvider.requests`: method, path, query, headers,
form, JSON), secrets included, for assertions; the provider's own log lines carry only the
method, the path without its query, and the status (and authlib's loggers, which log issued
tokens at DEBUG, are raised to INFO).
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import logging
import os
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.oauth_server import Client, ProviderState, Settings, User
    from flask import Flask
    from flask.typing import ResponseReturnValue
    from requests import Session as HTTPSession
    from werkzeug.serving import BaseWSGIServer

log = logging.getLogger("anaconda_auth.testing.idp")

DEFAULT_API_KEY_SCOPES = ["cloud:read", "cloud:write", "repo:read"]
_API_VIEWS = {"api_keys", "iam_api_keys", "account", "echo", "status"}


@dataclass
class RecordedRequest:
    """One request the provider received (secrets included: this is test-only)."""

    method: str
    path: str
    endpoint: str | None
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    time: float


@dataclass
class Faults:
    """Failures to inject; see the module docstring. Plain containers: set them from tests."""

    status: dict[str, int] = field(default_factory=dict)
    invalid_json: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    authorize_error: str | None = None
    wrong_state: bool = False
    response_headers: dict[str, str] = field(default_factory=dict)

    def clear(self) -> None:
        self.status.clear()
        self.invalid_json.clear()
        self.delay.clear()
        self.response_headers.clear()
        self.authorize_error = None
        self.wrong_state = False

    def _set(self, names: tuple[str, ...], value: int | None) -> None:
        for name in names:
            if value is None:
                self.status.pop(name, None)
            else:
                self.status[name] = value

    @property
    def discovery_status(self) -> int | None:
        return self.status.get("discovery")

    @discovery_status.setter
    def discovery_status(self, value: int | None) -> None:
        self._set(("discovery",), value)

    @property
    def token_status(self) -> int | None:
        return self.status.get("token")

    @token_status.setter
    def token_status(self, value: int | None) -> None:
        self._set(("token",), value)

    @property
    def device_authorization_status(self) -> int | None:
        return self.status.get("device_authorization")

    @device_authorization_status.setter
    def device_authorization_status(self, value: int | None) -> None:
        self._set(("device_authorization",), value)

    @property
    def account_status(self) -> int | None:
        return self.status.get("account")

    @account_status.setter
    def account_status(self, value: int | None) -> None:
        self._set(("account",), value)

    @property
    def api_key_status(self) -> int | None:
        return self.status.get("api_keys")

    @api_key_status.setter
    def api_key_status(self, value: int | None) -> None:
        self._set(("api_keys", "iam_api_keys"), value)


def _error_body(endpoint: str | None, status: int, message: str) -> dict[str, Any]:
    if endpoint in _API_VIEWS:
        return {"error": {"code": "injected_fault", "message": message}}
    error = "server_error" if status >= 500 else "invalid_request"
    return {"error": error, "error_description": message}


def _auth_required(message: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    return (
        {"error": {"code": "auth_required", "message": message}},
        401,
        {"WWW-Authenticate": 'Bearer realm="anaconda-auth-test"'},
    )


def _expiry(value: Any, default_lifetime: int) -> int | None:
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


def create_app(state: ProviderState, faults: Faults, record: deque[RecordedRequest]) -> Flask:
    """The Flask application serving ``state``."""
    from anaconda_auth.plugins.testing.oauth_server import (
        SCOPES,
        build_authorization_server,
        user_info,
    )
    from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
    from authlib.oauth2.rfc6749 import OAuth2Error  # type: ignore[import-untyped]
    from flask import Flask, Response, jsonify, redirect, render_template, request, session

    # authlib logs issued tokens at DEBUG: keep its loggers at INFO or above.
    authlib_log = logging.getLogger("authlib")
    if authlib_log.level < logging.INFO:
        authlib_log.setLevel(logging.INFO)

    app = Flask(__name__, template_folder=str(Path(__file__).parent))
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME="anaconda_idp_session", SESSION_COOKIE_SECURE=True)
    server = build_authorization_server(app, state)
    settings = state.settings

    # -- recording and faults ---------------------------------------------------------------

    @app.before_request
    def _before() -> ResponseReturnValue | None:
        endpoint = request.endpoint
        record.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                endpoint=endpoint,
                query=request.args.to_dict(),
                headers=dict(request.headers.items()),
                form=request.form.to_dict(),
                json=request.get_json(silent=True) if request.is_json else None,
                time=time.time(),
            )
        )
        if endpoint is None:
            return None
        delay = faults.delay.get(endpoint)
        if delay:
            stopping = app.config.get("IDP_STOPPING")
            if isinstance(stopping, threading.Event):
                stopping.wait(delay)
            else:  # pragma: no cover
                time.sleep(delay)
        status = faults.status.get(endpoint)
        if status is not None and status >= 300:
            return jsonify(_error_body(endpoint, status, f"injected HTTP {status}")), status
        if endpoint in faults.invalid_json:
            return Response("<html>this is not JSON{", 200, mimetype="application/json")
        return None

    @app.after_request
    def _after(response: Response) -> Response:
        endpoint = request.endpoint
        status = faults.status.get(endpoint) if endpoint else None
        if status is not None and status < 300:
            response.status_code = status
        if endpoint == "authorize" and faults.wrong_state and "Location" in response.headers:
            location = response.headers["Location"]
            parts = urlsplit(location)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            query["state"] = "tampered-" + secrets.token_urlsafe(8)
            response.headers["Location"] = parts._replace(query=urlencode(query)).geturl()
        for name, value in faults.response_headers.items():
            response.headers[name] = value
        return response

    # -- helpers ----------------------------------------------------------------------------

    def bearer_claims(kinds: set[str]) -> dict[str, Any] | None:
        """Claims of a valid Bearer token of one of ``kinds`` ("access", "api_key")."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        verified = state.verify(token.strip())
        if verified is None:
            return None
        header, claims = verified
        kind = "access" if header.get("typ") == "at+jwt" else "api_key"
        return claims if kind in kinds else None

    def user_for(claims: dict[str, Any]) -> User | None:
        for user in settings.users:
            if user.id == claims.get("sub"):
                return user
        return None

    def session_user() -> User | None:
        email = session.get("user")
        return state.find_user(email) if isinstance(email, str) else None

    def check_login() -> User | None:
        user = state.find_user(request.form.get("username", ""))
        password = request.form.get("password", "")
        if user is None or not secrets.compare_digest(user.password, password):
            return None
        return user

    def message(title: str, text: str, status: int = 200) -> ResponseReturnValue:
        return render_template("idp_message.html", title=title, message=text), status

    # -- OpenID Connect ---------------------------------------------------------------------

    @app.get("/.well-known/openid-configuration")
    def discovery() -> ResponseReturnValue:
        base = state.issuer
        return jsonify(
            issuer=base,
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            device_authorization_endpoint=f"{base}/device/code",
            userinfo_endpoint=f"{base}/userinfo",
            end_session_endpoint=f"{base}/logout",
            revocation_endpoint=f"{base}/revoke",
            jwks_uri=f"{base}/jwks.json",
            scopes_supported=SCOPES,
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=[
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=[
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            claims_supported=["sub", "email", "name", "preferred_username"],
        )

    @app.get("/jwks.json")
    def jwks() -> ResponseReturnValue:
        return jsonify(state.public_jwks())

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> ResponseReturnValue:
        current = session_user()
        try:
            grant = server.get_consent_grant(end_user=current)
        except OAuth2Error as error:
            response: Response = server.handle_error_response(None, error)
            return response
        if faults.authorize_error:
            params = [("error", faults.authorize_error), ("error_description", "injected")]
            if request.values.get("state"):
                params.append(("state", request.values["state"]))
            return redirect(add_params_to_uri(grant.redirect_uri, params))
        if request.method == "POST":
            if request.form.get("action") == "deny":
                return server.create_authorization_response(grant=grant, grant_user=None)  # type: ignore[no-any-return]
            user = check_login()
            if user is None:
                return (
                    render_template(
                        "idp_login.html",
                        action=request.full_path,
                        client_id=grant.client.client_id,
                        scope=grant.request.scope,
                        username=request.form.get("username", ""),
                        error="Wrong username or password.",
                    ),
                    401,
                )
            session["user"] = user.email
            return server.create_authorization_response(grant=grant, grant_user=user)  # type: ignore[no-any-return]
        if settings.auto_approve:
            hinted = state.find_user(request.args.get("login_hint", ""))
            user = hinted or current or settings.users[0]
            return server.create_authorization_response(grant=grant, grant_user=user)  # type: ignore[no-any-return]
        if current is not None and "login" not in request.args.get("prompt", "").split():
            return server.create_authorization_response(grant=grant, grant_user=current)  # type: ignore[no-any-return]
        return render_template(
            "idp_login.html",
            action=request.full_path,
            client_id=grant.client.client_id,
            scope=grant.request.scope,
            username=request.args.get("login_hint", ""),
            error=None,
        )

    @app.post("/token")
    def token() -> ResponseReturnValue:
        return server.create_token_response()  # type: ignore[no-any-return]

    @app.post("/device/code")
    def device_authorization() -> ResponseReturnValue:
        return server.create_endpoint_response("device_authorization")  # type: ignore[no-any-return]

    @app.post("/revoke")
    def revoke() -> ResponseReturnValue:
        return server.create_endpoint_response("revocation")  # type: ignore[no-any-return]

    @app.route("/device", methods=["GET", "POST"])
    def device() -> ResponseReturnValue:
        current = session_user()
        user_code = request.values.get("user_code", "").strip()

        def form(error: str | None = None, status: int = 200) -> ResponseReturnValue:
            page = render_template(
                "idp_device.html",
                action="/device",
                user_code=user_code,
                signed_in=current is not None,
                error=error,
            )
            return page, status

        if request.method == "GET" and not (settings.auto_approve and user_code):
            return form()
        cred = state.device_by_user_code(user_code) if user_code else None
        if cred is None or cred.is_expired():
            return form("Unknown or expired code.", 400)
        if request.method == "GET" or request.form.get("action") != "deny":
            user = current or (settings.users[0] if request.method == "GET" else check_login())
            if user is None:
                return form("Wrong username or password.", 401)
            with state.lock:
                cred.decision = (user, True)
            return message("Device connected", "You can close this window.")
        with state.lock:
            cred.decision = (None, False)
        return message("Access denied", "The device was not connected.")

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> ResponseReturnValue:
        claims = bearer_claims({"access"})
        user = user_for(claims) if claims else None
        if claims is None or user is None:
            return (
                jsonify(error="invalid_token"),
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return jsonify(user_info(user, str(claims.get("scope", ""))))

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> ResponseReturnValue:
        session.clear()
        target = request.values.get("post_logout_redirect_uri")
        if target and any(c.check_redirect_uri(target) for c in settings.clients):
            if request.values.get("state"):
                target = add_params_to_uri(target, [("state", request.values["state"])])
            return redirect(target)
        return message("Signed out", "You are signed out of the test provider.")

    # -- Anaconda API -----------------------------------------------------------------------

    def mint() -> ResponseReturnValue:
        claims = bearer_claims({"access"})
        user = user_for(claims) if claims else None
        if claims is None or user is None:
            return _auth_required("A valid access token is required to create an API key.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error={"code": "invalid_request", "message": "JSON object"}), 422
        scopes = body.get("scopes", [])
        tags = body.get("tags", [])
        for name, value in (("scopes", scopes), ("tags", tags)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                msg = f"{name} must be a list of strings"
                return jsonify(error={"code": "invalid_request", "message": msg}), 422
        exp = _expiry(body.get("expires_at"), settings.api_key_lifetime)
        if exp is None:
            msg = "expires_at must be epoch seconds or ISO 8601"
            return jsonify(error={"code": "invalid_request", "message": msg}), 422
        now = int(time.time())
        jti = str(uuid.uuid4())
        api_key = state.sign(
            {
                "iss": state.issuer,
                "sub": user.id,
                "iat": now,
                "exp": exp,
                "jti": jti,
                "scopes": scopes,
                "tags": tags,
                "ver": "2",
            }
        )
        expires_at = dt.datetime.fromtimestamp(exp, tz=dt.timezone.utc).isoformat()
        with state.lock:
            state.minted_api_keys.append(
                {"id": jti, "sub": user.id, "email": user.email, "scopes": scopes, "tags": tags}
            )
        return (
            jsonify(api_key=api_key, id=jti, scopes=scopes, tags=tags, expires_at=expires_at),
            201,
        )

    app.add_url_rule("/api/auth/api-keys", "api_keys", mint, methods=["POST"])
    app.add_url_rule("/api/iam/api-keys", "iam_api_keys", mint, methods=["POST"])

    @app.get("/api/account")
    def account() -> ResponseReturnValue:
        has_header = "Authorization" in request.headers
        claims = bearer_claims({"access", "api_key"})
        user = user_for(claims) if claims else None
        if claims is None or user is None:
            if has_header:
                return _auth_required("Invalid or expired credentials.")
            return _auth_required("Authentication is required.")
        return jsonify(
            user={
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "username": user.username,
            },
            profile={"is_confirmed": True, "is_disabled": False},
            subscriptions=[],
        )

    @app.get("/app/local-login-success")
    def login_success() -> ResponseReturnValue:
        return message("Logged in", "You are logged in. You can close this window.")

    @app.get("/app/local-login-error")
    def login_error() -> ResponseReturnValue:
        return message("Login failed", "The login did not complete. Try again.")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @app.route("/api/echo", methods=methods)
    def echo() -> ResponseReturnValue:
        claims = bearer_claims({"access", "api_key"})
        return jsonify(
            method=request.method,
            path=request.path,
            query=request.args.to_dict(),
            headers=dict(request.headers.items()),
            json=request.get_json(silent=True) if request.is_json else None,
            authenticated=claims is not None,
            sub=claims.get("sub") if claims else None,
        )

    @app.route("/api/status/<int:code>", methods=methods)
    def status(code: int) -> ResponseReturnValue:
        body: dict[str, Any] = {"status": code}
        if code >= 400:
            body = {"error": {"code": request.args.get("code", "error"), "message": "as asked"}}
        return jsonify(body), code

    return app


def _quiet_handler() -> type[Any]:
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        """Logs method, path (never the query: it can carry codes) and status, at DEBUG."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = self.path.split("?", 1)[0]
            log.debug("%s %s -> %s", self.command, path, code)

        def log(self, type: str, message: str, *args: Any) -> None:
            # werkzeug's "info" lines repeat the request line (with its query): never logged.
            if type == "error":
                log.debug("server error: %s", message % args if args else message)

    return QuietHandler


class IdentityProvider:
    """The provider: build it, :meth:`start` it (or use it as a context manager).

    Keyword arguments override fields of :class:`.oauth_server.Settings`
    (``auto_approve``, ``device_auto_approve``, ``api_key_lifetime``, ``device_interval``,
    ...). ``state_dir`` holds the CA and server certificate (a temporary directory, removed
    by :meth:`stop`, when not given).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        settings: Settings | None = None,
        state_dir: Path | str | None = None,
        **overrides: Any,
    ) -> None:
        from anaconda_auth.plugins.testing.oauth_server import ProviderState, Settings

        settings = settings or Settings()
        for name, value in overrides.items():
            if name not in {f.name for f in fields(Settings)}:
                raise TypeError(f"unknown setting {name!r}")
            setattr(settings, name, value)
        self._initial = copy.deepcopy(settings)
        self.state = ProviderState(settings)
        self.faults = Faults()
        self._record: deque[RecordedRequest] = deque(maxlen=5000)
        self._port = port
        self._own_dir = state_dir is None
        self._dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="anaconda-idp-"))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        from anaconda_auth.plugins.testing.ca import create_tls_files

        self.tls = create_tls_files(self._dir)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> IdentityProvider:
        from werkzeug.serving import make_server

        if self._server is not None:
            return self
        self._stopping.clear()
        app = create_app(self.state, self.faults, self._record)
        app.config["IDP_STOPPING"] = self._stopping
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        server = make_server(
            "127.0.0.1", self._port, app, threaded=True, request_handler=_quiet_handler()
        )
        # TLS as werkzeug's ssl_context= does, but with the handshake in the connection's
        # own thread: a client that connects and sends nothing cannot stall the accept loop.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.ssl_context = context
        self._server = server
        self._port = server.server_port
        self.state.issuer = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"anaconda-idp-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> IdentityProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the initial settings; no faults, requests, codes, tokens or devices."""
        for f in fields(self._initial):
            setattr(self.settings, f.name, copy.deepcopy(getattr(self._initial, f.name)))
        self.faults.clear()
        self._record.clear()
        self.state.clear()

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def domain(self) -> str:
        """What clients use as ``domain``: ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        return f"https://{self.domain}"

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_path

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def env(self) -> dict[str, str]:
        """Environment variables that point anaconda-auth at this provider."""
        return {"ANACONDA_AUTH_DOMAIN": self.domain, "ANACONDA_AUTH_SSL_VERIFY": str(self.ca_path)}

    @property
    def browser_command(self) -> str:
        """A ``$BROWSER`` value that opens URLs by following redirects (see :mod:`.browser`)."""
        return self.browser_command_for()

    def browser_command_for(
        self, login: str | None = None, password: str | None = None, *, deny: bool = False
    ) -> str:
        """A ``$BROWSER`` value that also signs in through the login form as ``login`` (with
        ``password``, default: that user's), or presses Deny."""
        module = "anaconda_auth.plugins.testing.browser"
        command = f'"{sys.executable}" -m {module} --ca "{self.ca_path}"'
        if login:
            user = self.state.find_user(login)
            password = password or (user.password if user else None)
            command += f' --login "{login}"'
            if password:
                command += f' --password "{password}"'
        if deny:
            command += " --deny"
        return command + " %s"

    # -- recorded requests ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._record)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests handled by the view ``endpoint`` (e.g. "token")."""
        return [r for r in self._record if r.endpoint == endpoint]

    def clear_requests(self) -> None:
        self._record.clear()

    # -- users, clients, devices ------------------------------------------------------------

    def add_user(self, email: str, password: str = "password", **fields_: str) -> User:  # noqa: S107
        from anaconda_auth.plugins.testing.oauth_server import User

        existing = self.state.find_user(email)
        if existing is not None:
            return existing
        user = User(email=email, password=password, **fields_)
        self.settings.users.append(user)
        return user

    def add_client(self, client: Client) -> Client:
        self.settings.clients[:] = [
            c for c in self.settings.clients if c.client_id != client.client_id
        ]
        self.settings.clients.append(client)
        return client

    def pending_user_codes(self) -> list[str]:
        """User codes of device authorizations still waiting for a decision."""
        with self.state.lock:
            return [
                c.user_code
                for c in self.state.devices.values()
                if c.decision is None and not c.is_expired()
            ]

    def _device(self, user_code: str | None) -> Any:
        if user_code is None:
            pending = self.pending_user_codes()
            if not pending:
                raise LookupError("no pending device authorization")
            user_code = pending[-1]
        cred = self.state.device_by_user_code(user_code)
        if cred is None:
            raise LookupError("unknown user code")
        return cred

    def approve_device(self, user_code: str | None = None, email: str | None = None) -> None:
        """Approve a device code (default: the latest pending one) as ``email`` or user 1."""
        cred = self._device(user_code)
        user = self.state.find_user(email) if email else self.settings.users[0]
        if user is None:
            raise LookupError(f"unknown user {email}")
        with self.state.lock:
            cred.decision = (user, True)

    def deny_device(self, user_code: str | None = None) -> None:
        cred = self._device(user_code)
        with self.state.lock:
            cred.decision = (None, False)

    def expire_device(self, user_code: str | None = None) -> None:
        cred = self._device(user_code)
        with self.state.lock:
            cred.expires_at = time.time() - 1

    @property
    def minted_api_keys(self) -> list[dict[str, Any]]:
        """``{"id", "sub", "email", "scopes", "tags"}`` of every API key minted over HTTP."""
        with self.state.lock:
            return list(self.state.minted_api_keys)

    def revoke_api_key(self, api_key: str) -> None:
        """Make a key this provider minted invalid (the account endpoint then answers 401)."""
        from anaconda_auth.token import jwt_claims

        jti = jwt_claims(api_key).get("jti")
        if isinstance(jti, str):
            with self.state.lock:
                self.state.revoked_jtis.add(jti)

    # -- logging in over HTTP ---------------------------------------------------------------

    def http_session(self) -> HTTPSession:
        """A ``requests`` session that trusts this provider's CA and ignores the environment."""
        import requests

        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.ca_path)
        return s

    def get_tokens(
        self,
        email: str | None = None,
        *,
        scope: str = "openid email profile offline_access",
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """A token response for ``email``, through the real endpoints: the login form (with
        the user's password), the code redirect, and the PKCE code exchange."""
        from anaconda_auth.plugins.testing.oauth_server import PUBLIC_CLIENT_ID

        user = self.add_user(email) if email else self.settings.users[0]
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        redirect_uri = "http://127.0.0.1:1/callback"
        params = {
            "response_type": "code",
            "client_id": client_id or PUBLIC_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with self.http_session() as s:
            r = s.post(
                f"{self.url}/authorize?{urlencode(params)}",
                data={"username": user.email, "password": user.password, "action": "approve"},
                allow_redirects=False,
                timeout=30,
            )
            location = r.headers.get("Location", "")
            code = parse_qs(urlsplit(location).query).get("code", [""])[0]
            if r.status_code != 302 or not code:
                raise RuntimeError(f"login failed: HTTP {r.status_code}")
            r = s.post(
                f"{self.url}/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": params["client_id"],
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                },
                timeout=30,
            )
            if r.status_code != 200:
                raise RuntimeError(f"code exchange failed: HTTP {r.status_code}")
            result: dict[str, Any] = r.json()
            return result

    def mint_api_key(
        self,
        email: str | None = None,
        lifetime: float | None = None,
        *,
        scopes: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> str:
        """An API key for ``email`` (added as a user if unknown; default: the first user),
        minted through the real login and ``POST /api/auth/api-keys``. ``lifetime`` in
        seconds (negative: already expired); default ``settings.api_key_lifetime``."""
        tokens = self.get_tokens(email)
        body: dict[str, Any] = {
            "scopes": DEFAULT_API_KEY_SCOPES if scopes is None else scopes,
            "tags": ["anaconda-auth-testing"] if tags is None else tags,
        }
        if lifetime is not None:
            body["expires_at"] = int(time.time() + lifetime)
        with self.http_session() as s:
            r = s.post(
                f"{self.url}/api/auth/api-keys",
                json=body,
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
                timeout=30,
            )
        if r.status_code != 201:
            raise RuntimeError(f"API key creation failed: HTTP {r.status_code}")
        api_key: str = r.json()["api_key"]
        return api_key


# -- command line ---------------------------------------------------------------------------


def _env_lines(idp: IdentityProvider) -> str:
    return "".join(f"export {name}={value}\n" for name, value in idp.env().items())


def main(argv: list[str] | None = None) -> int:
    """``anaconda-auth-idp``: run the provider in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="anaconda-auth-idp",
        description="A local OpenID Connect provider for testing anaconda-auth (never for real "
        "credentials).",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve logins and device codes without the login form",
    )
    parser.add_argument(
        "--device-auto-approve", action="store_true", help="approve device codes when issued"
    )
    parser.add_argument(
        "--api-key-lifetime", type=int, default=None, help="API key lifetime in seconds"
    )
    parser.add_argument(
        "--access-token-lifetime", type=int, default=None, help="access token lifetime (s)"
    )
    parser.add_argument("--device-interval", type=int, default=None, help="device poll interval")
    parser.add_argument("--user", default="alice@example.com", help="the test user's email")
    parser.add_argument("--password", default="password", help="the test user's password")
    parser.add_argument("--state-dir", type=Path, default=None, help="where to write the CA")
    parser.add_argument(
        "--print-env",
        type=Path,
        metavar="FILE",
        default=None,
        help="write `export VAR=value` lines to FILE once serving (for `source FILE`)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests (no query)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
    )

    from anaconda_auth.plugins.testing.oauth_server import Settings, User

    settings = Settings(
        auto_approve=args.auto_approve,
        device_auto_approve=args.device_auto_approve,
        users=[User(args.user, password=args.password)],
    )
    for name in ("api_key_lifetime", "access_token_lifetime", "device_interval"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    idp = IdentityProvider(port=args.port, settings=settings, state_dir=args.state_dir)
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with idp:
        print(f"anaconda-auth test identity provider at {idp.url}")
        print(f"  domain:  {idp.domain}")
        print(f"  CA:      {idp.ca_path}")
        print(f"  user:    {args.user} (password: {args.password})")
        print(f"  approve: {'automatic' if args.auto_approve else 'login form'}")
        print("Point anaconda-auth at it with:")
        print(_env_lines(idp), end="")
        if args.print_env is not None:
            tmp = args.print_env.with_name(args.print_env.name + ".tmp")
            tmp.write_text(_env_lines(idp))
            os.replace(tmp, args.print_env)
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
