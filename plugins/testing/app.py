"""The provider's Flask application and the HTTPS server that runs it.

Endpoints, with their view names (what faults and ``IdentityProvider.requests_to`` use):

=========================================  ===================================================
``GET /.well-known/openid-configuration``  discovery (``discovery``)
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
``/api/organizations/...``                 organizations and repo tokens (:mod:`.repo_views`)
``GET /repo/...``, ``GET /t/<token>/repo/...``  a conda channel that needs a repo token or an
                                           API key (:mod:`.channel_views`)
=========================================  ===================================================

Logs carry no secrets: the request handler logs the method, the path without its query (and
without the token of a ``/t/<token>/`` path), and
the status, at DEBUG; werkzeug's own request lines are dropped; authlib's loggers, which log
issued tokens at DEBUG, are raised to INFO.
"""

from __future__ import annotations

import logging
import re
import secrets
import ssl
import threading
from collections import deque
from pathlib import Path
from typing import Any

from anaconda_auth.plugins.testing import faults as faults_module
from anaconda_auth.plugins.testing.api_views import AnacondaAPIViews
from anaconda_auth.plugins.testing.ca import TLSFiles
from anaconda_auth.plugins.testing.channel_views import ChannelViews
from anaconda_auth.plugins.testing.faults import Faults, RecordedRequest
from anaconda_auth.plugins.testing.oauth_server import build_authorization_server
from anaconda_auth.plugins.testing.oauth_views import OAuthViews
from anaconda_auth.plugins.testing.repo_views import RepoAPIViews
from anaconda_auth.plugins.testing.state import ProviderState
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("anaconda_auth.testing.idp")

TEMPLATES = Path(__file__).parent


def _quiet_authlib() -> None:
    authlib_log = logging.getLogger("authlib")
    if authlib_log.level < logging.INFO:
        authlib_log.setLevel(logging.INFO)


def create_app(state: ProviderState, faults: Faults, record: deque[RecordedRequest]) -> Flask:
    """The Flask application serving ``state``."""
    _quiet_authlib()
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME="anaconda_idp_session", SESSION_COOKIE_SECURE=True)
    server = build_authorization_server(app, state)
    faults_module.install(app, faults, record)
    for group in (OAuthViews, AnacondaAPIViews, RepoAPIViews, ChannelViews):
        group(state, server, faults).register(app)
    return app


class QuietHandler(WSGIRequestHandler):
    """Logs method, path (never the query: it can carry codes) and status, at DEBUG."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = re.sub(r"^/t/[^/]+/", "/t/<token>/", self.path.split("?", 1)[0])
        log.debug("%s %s -> %s", self.command, path, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        # werkzeug's "info" lines repeat the request line (with its query): never logged.
        if type == "error":
            log.debug("server error: %s", message % args if args else message)


def make_https_server(
    app: Flask, port: int, tls: TLSFiles, stopping: threading.Event
) -> BaseWSGIServer:
    """A threaded HTTPS server for ``app`` on 127.0.0.1; ``stopping`` cuts injected delays.

    TLS is set up as werkzeug's ``ssl_context=`` does, but with the handshake in the
    connection's own thread: a client that connects and sends nothing cannot stall the
    accept loop.
    """
    app.config[faults_module.STOPPING_KEY] = stopping
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.ssl_context = context
    return server
