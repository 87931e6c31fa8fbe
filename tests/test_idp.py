"""The local identity provider: real HTTPS on 127.0.0.1 with its throwaway CA, real clients."""

from __future__ import annotations

import base64
import hashlib
import http.server as httpserver
import logging
import os
import secrets
import shlex
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest
import requests
from anaconda_auth.plugins.testing.idp import IdentityProvider
from anaconda_auth.plugins.testing.oauth_server import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    Client,
)
from support.processes import modules_loaded_by

pytest_plugins = ["pytester"]

REDIRECT = "http://127.0.0.1:8000/auth/oidc"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


# -- helpers ---------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def auth_params(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": PUBLIC_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid email profile offline_access",
        "state": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


@pytest.fixture
def idp(anaconda_idp: IdentityProvider) -> IdentityProvider:
    return anaconda_idp


@pytest.fixture
def http(idp: IdentityProvider) -> Iterator[requests.Session]:
    with idp.http_session() as s:
        yield s


def authorize(idp: IdentityProvider, http: requests.Session, **overrides: str | None) -> Any:
    """Auto-approved authorization request; returns (redirect query, verifier, params)."""
    idp.settings.auto_approve = True
    verifier, challenge = pkce()
    params = auth_params(challenge, **overrides)
    r = http.get(f"{idp.url}/authorize", params=params, allow_redirects=False)
    return redirect_query(r), verifier, params


def exchange(
    idp: IdentityProvider, http: requests.Session, code: str, verifier: str | None, **extra: str
) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": PUBLIC_CLIENT_ID,
        "code": code,
        "redirect_uri": REDIRECT,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return http.post(f"{idp.url}/token", data=data)


def refresh(idp: IdentityProvider, http: requests.Session, refresh_token: str) -> requests.Response:
    """The refresh-token grant of the public client."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": PUBLIC_CLIENT_ID,
    }
    return http.post(f"{idp.url}/token", data=data)


def login(idp: IdentityProvider, http: requests.Session, scope: str | None = None) -> Any:
    overrides = {"scope": scope} if scope else {}
    query, verifier, _ = authorize(idp, http, **overrides)
    r = exchange(idp, http, query["code"], verifier)
    assert r.status_code == 200, r.text
    return r.json()


def verify_jwt(idp: IdentityProvider, http: requests.Session, token: str, **kw: Any) -> Any:
    """Verify with PyJWT and the published JWKS: an independent check of the signatures."""
    jwks = pyjwt.PyJWKSet.from_dict(http.get(f"{idp.url}/jwks.json").json())
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return pyjwt.decode(token, key.key, algorithms=["RS256"], **kw)


# -- TLS and discovery -----------------------------------------------------------------------


def test_discovery_over_https_with_the_generated_ca(
    idp: IdentityProvider, http: requests.Session
) -> None:
    r = http.get(f"https://{idp.domain}/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == idp.url == f"https://127.0.0.1:{idp.port}"
    for name in ("authorization", "token", "device_authorization", "userinfo", "end_session"):
        assert doc[f"{name}_endpoint"].startswith(idp.url + "/")
    assert doc["jwks_uri"].startswith(idp.url)
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "email", "profile", "offline_access"} <= set(doc["scopes_supported"])
    assert DEVICE_GRANT in doc["grant_types_supported"]
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])


def test_certificate_is_only_trusted_through_the_ca(idp: IdentityProvider) -> None:
    with requests.Session() as s:
        s.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            s.get(f"{idp.url}/jwks.json", verify=True, timeout=10)
        # The same CA works for "localhost" and through the stdlib's strict verification.
        assert s.get(f"https://localhost:{idp.port}/jwks.json", verify=str(idp.ca_path)).ok
    context = ssl.create_default_context(cafile=str(idp.ca_path))
    context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    with (
        socket.create_connection(("127.0.0.1", idp.port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() is not None


def test_client_certificate_for_mutual_tls(tmp_path: Path) -> None:
    from anaconda_auth.plugins.testing.ca import create_tls_files
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    plain = create_tls_files(tmp_path / "plain")
    assert plain.client_cert_path is None and plain.client_key_path is None
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [
        "ca.pem",
        "server-key.pem",
        "server.pem",
    ]

    tls = create_tls_files(tmp_path / "mtls", client_name="alice-client")
    assert tls.client_cert_path is not None and tls.client_key_path is not None
    assert tls.client_key_path.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(tls.client_cert_path.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice-client"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    # Handshakes in which each side verifies the other strictly, through the CA only.
    strict = getattr(ssl, "VERIFY_X509_STRICT", 0)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tls.cert_path, tls.key_path)
    server_context.verify_mode = ssl.CERT_REQUIRED
    server_context.load_verify_locations(tls.ca_path)
    server_context.verify_flags |= strict

    def handshake(client_context: ssl.SSLContext) -> tuple[bytes, Any]:
        """What the client received, and the client certificate (or the error) the server saw."""
        seen: list[Any] = []

        def serve(listener: socket.socket) -> None:
            conn, _ = listener.accept()
            try:
                with server_context.wrap_socket(conn, server_side=True) as tls_conn:
                    seen.append(tls_conn.getpeercert())
                    tls_conn.sendall(b"ok")
            except (ssl.SSLError, OSError) as exc:
                seen.append(exc)
                conn.close()

        received = b""
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(10)
            thread = threading.Thread(target=serve, args=(listener,), daemon=True)
            thread.start()
            try:
                with (
                    socket.create_connection(listener.getsockname(), timeout=10) as sock,
                    client_context.wrap_socket(sock, server_hostname="127.0.0.1") as client,
                ):
                    received = client.recv(2)
            except (ssl.SSLError, ConnectionError):
                pass
            thread.join(10)
        return received, seen[0]

    client_context = ssl.create_default_context(cafile=str(tls.ca_path))
    client_context.load_cert_chain(tls.client_cert_path, tls.client_key_path)
    client_context.verify_flags |= strict
    received, peer = handshake(client_context)
    assert received == b"ok"
    assert dict(rdn[0] for rdn in peer["subject"])["commonName"] == "alice-client"

    # Without its certificate the client is refused.
    received, error = handshake(ssl.create_default_context(cafile=str(tls.ca_path)))
    assert received == b"" and isinstance(error, ssl.SSLError)


# -- authorization code + PKCE ---------------------------------------------------------------


def test_auth_code_pkce_flow_issues_signed_tokens(
    idp: IdentityProvider, http: requests.Session
) -> None:
    query, verifier, params = authorize(idp, http)
    assert query["state"] == params["state"]
    r = exchange(idp, http, query["code"], verifier)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["expires_in"] == idp.settings.access_token_lifetime
    assert tokens["refresh_token"]
    claims = verify_jwt(idp, http, tokens["access_token"], audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == "alice@example.com"
    assert claims["sub"] == idp.settings.users[0].id
    assert claims["exp"] - time.time() == pytest.approx(idp.settings.access_token_lifetime, 5)
    assert pyjwt.get_unverified_header(tokens["access_token"])["typ"] == "at+jwt"
    id_claims = verify_jwt(idp, http, tokens["id_token"], audience=PUBLIC_CLIENT_ID)
    assert id_claims["iss"] == idp.issuer and id_claims["email"] == "alice@example.com"
    # The code is single-use.
    again = exchange(idp, http, query["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_no_refresh_token_without_offline_access(
    idp: IdentityProvider, http: requests.Session
) -> None:
    tokens = login(idp, http, scope="openid email")
    assert "refresh_token" not in tokens
    assert "access_token" in tokens


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "code_challenge"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge_method": None}, "S256"),
    ],
    ids=["missing", "plain", "no-method"],
)
def test_pkce_is_required_with_s256(
    idp: IdentityProvider, http: requests.Session, overrides: dict[str, None], fragment: str
) -> None:
    idp.settings.auto_approve = True
    _, challenge = pkce()
    params = auth_params(challenge, **overrides)
    r = http.get(f"{idp.url}/authorize", params=params, allow_redirects=False)
    query = redirect_query(r)
    assert query["error"] == "invalid_request"
    assert fragment in query["error_description"]
    assert query["state"] == params["state"]
    assert "code" not in query


def test_code_verifier_is_checked(idp: IdentityProvider, http: requests.Session) -> None:
    query, verifier, _ = authorize(idp, http)
    missing = exchange(idp, http, query["code"], None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = exchange(idp, http, query["code"], pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_redirect_uri_rules(idp: IdentityProvider, http: requests.Session) -> None:
    idp.settings.auto_approve = True
    _, challenge = pkce()
    # Not registered and not loopback: an error page, never a redirect to it.
    evil = auth_params(challenge, redirect_uri="https://evil.example/cb")
    r = http.get(f"{idp.url}/authorize", params=evil, allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers
    # https on loopback is not a loopback redirect in the RFC 8252 sense.
    r = http.get(
        f"{idp.url}/authorize",
        params=auth_params(challenge, redirect_uri="https://127.0.0.1:9/cb"),
        allow_redirects=False,
    )
    assert r.status_code == 400
    # Any port (and path) on loopback http is accepted.
    other = "http://127.0.0.1:54321/somewhere/else"
    query, verifier, _ = authorize(idp, http, redirect_uri=other)
    # ... and the exchange must repeat it exactly.
    r = exchange(idp, http, query["code"], verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = exchange(idp, http, query["code"], verifier, redirect_uri=other)
    assert r.status_code == 200


def test_unknown_client_is_rejected(idp: IdentityProvider, http: requests.Session) -> None:
    _, challenge = pkce()
    params = auth_params(challenge, client_id="nobody")
    r = http.get(f"{idp.url}/authorize", params=params, allow_redirects=False)
    assert r.status_code in (400, 401) and "Location" not in r.headers


def test_login_form_session_and_logout(idp: IdentityProvider, http: requests.Session) -> None:
    _, challenge = pkce()
    params = auth_params(challenge)
    url = f"{idp.url}/authorize?{urlencode(params)}"
    page = http.get(url, allow_redirects=False)
    assert page.status_code == 200 and 'id="login-form"' in page.text
    assert "text/html" in page.headers["Content-Type"]
    bad = http.post(url, data={"username": "alice@example.com", "password": "nope"})
    assert bad.status_code == 401 and "Wrong username or password" in bad.text
    good = http.post(
        url,
        data={"username": "alice", "password": "password", "action": "approve"},
        allow_redirects=False,
    )
    assert redirect_query(good)["state"] == params["state"]
    # Signed in: the next authorization skips the form, unless prompt=login.
    assert "code" in redirect_query(http.get(url, allow_redirects=False))
    forced = http.get(url + "&prompt=login", allow_redirects=False)
    assert forced.status_code == 200 and 'id="login-form"' in forced.text
    # Logout ends the session and goes back to a loopback URI with the state.
    out = http.get(
        f"{idp.url}/logout",
        params={"post_logout_redirect_uri": "http://127.0.0.1:5006/", "state": "s1"},
        allow_redirects=False,
    )
    assert out.status_code == 302 and out.headers["Location"] == "http://127.0.0.1:5006/?state=s1"
    assert http.get(url, allow_redirects=False).status_code == 200
    # A foreign post-logout URI is not followed.
    out = http.get(
        f"{idp.url}/logout",
        params={"post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
    )
    assert out.status_code == 200 and "signed out" in out.text


def test_deny_redirects_access_denied(idp: IdentityProvider, http: requests.Session) -> None:
    _, challenge = pkce()
    params = auth_params(challenge)
    r = http.post(
        f"{idp.url}/authorize?{urlencode(params)}",
        data={"action": "deny"},
        allow_redirects=False,
    )
    query = redirect_query(r)
    assert query["error"] == "access_denied" and query["state"] == params["state"]
    assert "code" not in query


def test_auto_approve_uses_login_hint(idp: IdentityProvider, http: requests.Session) -> None:
    bob = idp.add_user("bob@example.com", first_name="Bob")
    query, verifier, _ = authorize(idp, http, login_hint="bob@example.com")
    tokens = exchange(idp, http, query["code"], verifier).json()
    assert verify_jwt(idp, http, tokens["access_token"], audience=PUBLIC_CLIENT_ID)["sub"] == (
        bob.id
    )


class _Callback(httpserver.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", self.server.success_url)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_browser_stand_in_completes_a_login(idp: IdentityProvider, http: requests.Session) -> None:
    """The $BROWSER script follows redirects to a real loopback callback server."""
    server = httpserver.HTTPServer(("127.0.0.1", 0), _Callback)
    server.success_url = f"{idp.url}/app/local-login-success"  # type: ignore[attr-defined]
    _Callback.hits = []
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        redirect = f"http://127.0.0.1:{server.server_port}/auth/oidc"
        _, challenge = pkce()
        params = auth_params(challenge, redirect_uri=redirect)
        url = f"{idp.url}/authorize?{urlencode(params)}"
        command = idp.browser_command_for("alice@example.com")
        assert os.pathsep not in command  # $BROWSER splits alternatives on it
        argv = [a.replace("%s", url) for a in shlex.split(command)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        thread.join(10)
    finally:
        server.server_close()
    assert len(_Callback.hits) == 1
    query = parse_qs(urlsplit(_Callback.hits[0]).query)
    assert query["state"] == [params["state"]] and query["code"]
    assert idp.requests_to("login_success")


# -- refresh and revocation ------------------------------------------------------------------


def test_refresh_token_rotates(idp: IdentityProvider, http: requests.Session) -> None:
    tokens = login(idp, http)
    r = refresh(idp, http, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert verify_jwt(idp, http, fresh["access_token"], audience=PUBLIC_CLIENT_ID)["email"]
    reused = refresh(idp, http, tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_revoked_refresh_token_is_refused(idp: IdentityProvider, http: requests.Session) -> None:
    tokens = login(idp, http)
    r = http.post(
        f"{idp.url}/revoke",
        data={"token": tokens["refresh_token"], "client_id": PUBLIC_CLIENT_ID},
    )
    assert r.status_code == 200
    r = refresh(idp, http, tokens["refresh_token"])
    assert r.json()["error"] == "invalid_grant"


# -- confidential clients --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_confidential_client(idp: IdentityProvider, http: requests.Session, method: str) -> None:
    query, verifier, _ = authorize(idp, http, client_id=CONFIDENTIAL_CLIENT_ID)
    data = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    auth: tuple[str, str] | None = None
    if method == "client_secret_basic":
        auth = (CONFIDENTIAL_CLIENT_ID, "wrong")
    else:
        data.update(client_id=CONFIDENTIAL_CLIENT_ID, client_secret="wrong")
    r = http.post(f"{idp.url}/token", data=data, auth=auth)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    if auth:
        auth = (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
    else:
        data["client_secret"] = CONFIDENTIAL_CLIENT_SECRET
    r = http.post(f"{idp.url}/token", data=data, auth=auth)
    assert r.status_code == 200, r.text
    assert r.json()["id_token"]


def test_confidential_client_cannot_skip_its_secret(
    idp: IdentityProvider, http: requests.Session
) -> None:
    query, verifier, _ = authorize(idp, http, client_id=CONFIDENTIAL_CLIENT_ID)
    r = exchange(idp, http, query["code"], verifier, client_id=CONFIDENTIAL_CLIENT_ID)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_added_client_without_pkce(idp: IdentityProvider, http: requests.Session) -> None:
    idp.add_client(
        Client(
            client_id="panel-app",
            client_secret="s3",
            token_endpoint_auth_methods=("client_secret_post",),
            require_pkce=False,
            redirect_uris=["https://app.example/login"],
            allow_loopback_redirects=False,
        )
    )
    idp.settings.auto_approve = True
    params = {
        "response_type": "code",
        "client_id": "panel-app",
        "redirect_uri": "https://app.example/login",
        "scope": "openid email",
        "state": "st",
    }
    query = redirect_query(http.get(f"{idp.url}/authorize", params=params, allow_redirects=False))
    r = http.post(
        f"{idp.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": "https://app.example/login",
            "client_id": "panel-app",
            "client_secret": "s3",
        },
    )
    assert r.status_code == 200, r.text
    loop = dict(params, redirect_uri="http://127.0.0.1:5006/login")
    r = http.get(f"{idp.url}/authorize", params=loop, allow_redirects=False)
    assert r.status_code == 400


# -- device flow -----------------------------------------------------------------------------


def start_device(idp: IdentityProvider, http: requests.Session) -> dict[str, Any]:
    r = http.post(
        f"{idp.url}/device/code",
        data={"client_id": PUBLIC_CLIENT_ID, "scope": "openid email profile offline_access"},
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def poll(idp: IdentityProvider, http: requests.Session, device_code: str) -> requests.Response:
    return http.post(
        f"{idp.url}/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": device_code,
            "client_id": PUBLIC_CLIENT_ID,
        },
    )


def test_device_flow_pending_slow_down_approve(
    idp: IdentityProvider, http: requests.Session
) -> None:
    idp.settings.device_interval = 1
    idp.settings.slow_down_increment = 1
    dev = start_device(idp, http)
    assert dev["interval"] == 1 and dev["expires_in"] == idp.settings.device_code_lifetime
    assert dev["verification_uri"] == f"{idp.url}/device"
    assert dev["verification_uri_complete"].endswith(dev["user_code"])
    assert idp.pending_user_codes() == [dev["user_code"]]
    r = poll(idp, http, dev["device_code"])
    assert r.status_code == 400 and r.json()["error"] == "authorization_pending"
    r = poll(idp, http, dev["device_code"])
    assert r.json()["error"] == "slow_down"
    time.sleep(2.1)  # the interval is now 2 s
    assert poll(idp, http, dev["device_code"]).json()["error"] == "authorization_pending"
    idp.approve_device(dev["user_code"].lower().replace("-", ""))
    r = poll(idp, http, dev["device_code"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert verify_jwt(idp, http, tokens["access_token"], audience=PUBLIC_CLIENT_ID)["email"]
    assert tokens["refresh_token"]
    # The device code was used up.
    assert poll(idp, http, dev["device_code"]).status_code == 400


def test_device_flow_denied_and_expired(idp: IdentityProvider, http: requests.Session) -> None:
    denied = start_device(idp, http)
    idp.deny_device(denied["user_code"])
    assert poll(idp, http, denied["device_code"]).json()["error"] == "access_denied"
    expired = start_device(idp, http)
    idp.expire_device()
    assert poll(idp, http, expired["device_code"]).json()["error"] == "expired_token"
    with pytest.raises(LookupError):
        idp.approve_device()


def test_device_flow_short_lifetime(idp: IdentityProvider, http: requests.Session) -> None:
    idp.settings.device_code_lifetime = 1
    dev = start_device(idp, http)
    assert dev["expires_in"] == 1
    time.sleep(1.2)
    assert poll(idp, http, dev["device_code"]).json()["error"] == "expired_token"


def test_device_verification_page(idp: IdentityProvider, http: requests.Session) -> None:
    dev = start_device(idp, http)
    page = http.get(dev["verification_uri_complete"])
    assert page.status_code == 200 and 'id="device-form"' in page.text
    assert dev["user_code"] in page.text
    unknown = http.post(f"{idp.url}/device", data={"user_code": "XXXX-XXXX"})
    assert unknown.status_code == 400
    wrong = http.post(
        f"{idp.url}/device",
        data={"user_code": dev["user_code"], "username": "alice", "password": "x"},
    )
    assert wrong.status_code == 401
    assert poll(idp, http, dev["device_code"]).json()["error"] == "authorization_pending"
    ok = http.post(
        f"{idp.url}/device",
        data={"user_code": dev["user_code"], "username": "alice", "password": "password"},
    )
    assert ok.status_code == 200 and "Device connected" in ok.text
    time.sleep(idp.settings.device_interval)
    assert poll(idp, http, dev["device_code"]).status_code == 200
    # Deny through the page.
    other = start_device(idp, http)
    http.post(f"{idp.url}/device", data={"user_code": other["user_code"], "action": "deny"})
    assert poll(idp, http, other["device_code"]).json()["error"] == "access_denied"


def test_device_auto_approve_modes(idp: IdentityProvider, http: requests.Session) -> None:
    idp.settings.auto_approve = True
    dev = start_device(idp, http)
    assert http.get(dev["verification_uri_complete"]).status_code == 200
    assert poll(idp, http, dev["device_code"]).status_code == 200
    idp.settings.auto_approve = False
    idp.settings.device_auto_approve = True
    dev = start_device(idp, http)
    assert poll(idp, http, dev["device_code"]).status_code == 200


# -- API keys and the account ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/api-keys", "/api/iam/api-keys"])
def test_mint_api_key(idp: IdentityProvider, http: requests.Session, path: str) -> None:
    idp.settings.api_key_lifetime = 1234
    tokens = login(idp, http)
    body = {"scopes": ["cloud:read", "repo:read"], "tags": ["anaconda-auth/v1.0"]}
    r = http.post(
        idp.url + path, json=body, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert r.status_code == 201, r.text
    api_key = r.json()["api_key"]
    claims = verify_jwt(idp, http, api_key)
    assert claims["exp"] - time.time() == pytest.approx(1234, abs=5)
    assert claims["sub"] == idp.settings.users[0].id
    assert claims["scopes"] == body["scopes"]
    assert idp.minted_api_keys[-1]["tags"] == ["anaconda-auth/v1.0"]
    account = http.get(f"{idp.url}/api/account", headers={"Authorization": f"Bearer {api_key}"})
    assert account.status_code == 200
    user = account.json()["user"]
    assert user["email"] == "alice@example.com"
    assert {"id", "first_name", "last_name", "username"} <= set(user)


def test_mint_api_key_requires_an_access_token(
    idp: IdentityProvider, http: requests.Session
) -> None:
    url = f"{idp.url}/api/auth/api-keys"
    body = {"scopes": [], "tags": []}
    r = http.post(url, json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_required"
    r = http.post(url, json=body, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_required"
    api_key = idp.mint_api_key()
    r = http.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 401
    token = login(idp, http)["access_token"]
    bad = http.post(url, json={"scopes": "x"}, headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 422


def test_account_auth_required(idp: IdentityProvider, http: requests.Session) -> None:
    url = f"{idp.url}/api/account"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        r = http.get(url, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "auth_required"
        assert r.json()["error"]["message"]
    token = login(idp, http)["access_token"]
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_expired_revoked_and_foreign_keys_are_refused(
    idp: IdentityProvider, http: requests.Session
) -> None:
    url = f"{idp.url}/api/account"
    expired = idp.mint_api_key(lifetime=-10)
    assert pyjwt.decode(expired, options={"verify_signature": False})["exp"] < time.time()
    assert http.get(url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    good = idp.mint_api_key("carol@example.com", lifetime=60)
    r = http.get(url, headers={"Authorization": f"Bearer {good}"})
    assert r.json()["user"]["email"] == "carol@example.com"
    idp.revoke_api_key(good)
    assert http.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 401
    with IdentityProvider() as other:
        foreign = other.mint_api_key()
    r = http.get(url, headers={"Authorization": f"Bearer {foreign}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth_required"


def test_echo_and_status(idp: IdentityProvider, http: requests.Session) -> None:
    key = idp.mint_api_key()
    r = http.post(
        f"{idp.url}/api/echo?x=1",
        json={"a": 1},
        headers={"Authorization": f"Bearer {key}", "User-Agent": "ua/1", "Api-Version": "2"},
    )
    body = r.json()
    assert body["method"] == "POST" and body["query"] == {"x": "1"} and body["json"] == {"a": 1}
    assert body["headers"]["User-Agent"] == "ua/1" and body["headers"]["Api-Version"] == "2"
    assert body["authenticated"] is True
    assert http.get(f"{idp.url}/api/echo").json()["authenticated"] is False
    r = http.get(f"{idp.url}/api/status/403?code=auth_required")
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth_required"


# -- faults ----------------------------------------------------------------------------------


def test_status_and_invalid_json_faults(idp: IdentityProvider, http: requests.Session) -> None:
    discovery = f"{idp.url}/.well-known/openid-configuration"
    idp.faults.discovery_status = 500
    r = http.get(discovery)
    assert r.status_code == 500 and r.json()["error"] == "server_error"
    idp.faults.discovery_status = None
    idp.faults.invalid_json.add("discovery")
    r = http.get(discovery)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    idp.faults.clear()
    assert http.get(discovery).json()["issuer"] == idp.issuer
    idp.faults.token_status = 503
    assert http.post(f"{idp.url}/token", data={"grant_type": "x"}).status_code == 503


def test_api_key_status_faults(idp: IdentityProvider, http: requests.Session) -> None:
    token = login(idp, http)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"scopes": [], "tags": []}
    idp.faults.api_key_status = 200
    r = http.post(f"{idp.url}/api/auth/api-keys", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["api_key"]
    idp.faults.api_key_status = 500
    for path in ("/api/auth/api-keys", "/api/iam/api-keys"):
        r = http.post(idp.url + path, json=body, headers=headers)
        assert r.status_code == 500 and r.json()["error"]["code"] == "injected_fault"
    idp.faults.api_key_status = None
    idp.faults.status["api_keys"] = 404  # only the auth-domain path: the fallback works
    assert http.post(f"{idp.url}/api/auth/api-keys", json=body, headers=headers).status_code == (
        404
    )
    r = http.post(f"{idp.url}/api/iam/api-keys", json=body, headers=headers)
    assert r.status_code == 201


def test_delay_fault_times_out_clients(idp: IdentityProvider, http: requests.Session) -> None:
    idp.faults.delay["token"] = 3
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(f"{idp.url}/token", data={"grant_type": "x"}, timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert http.get(f"{idp.url}/jwks.json", timeout=5).ok  # other requests are served


def test_authorize_faults(idp: IdentityProvider, http: requests.Session) -> None:
    idp.faults.authorize_error = "access_denied"
    query, _, params = authorize(idp, http)
    assert query == {
        "error": "access_denied",
        "error_description": "injected",
        "state": params["state"],
    }
    idp.faults.authorize_error = None
    idp.faults.wrong_state = True
    query, _, params = authorize(idp, http)
    assert query["code"] and query["state"] != params["state"]


def test_response_header_fault_and_reset(idp: IdentityProvider, http: requests.Session) -> None:
    idp.faults.response_headers["Min-Api-Version"] = "2099.01.01"
    assert http.get(f"{idp.url}/api/echo").headers["Min-Api-Version"] == "2099.01.01"
    idp.settings.auto_approve = True
    idp.reset()
    assert "Min-Api-Version" not in http.get(f"{idp.url}/api/echo").headers
    assert idp.settings.auto_approve is False


# -- recording and logging -------------------------------------------------------------------


def test_requests_are_recorded(idp: IdentityProvider, http: requests.Session) -> None:
    http.headers["User-Agent"] = "anaconda-auth/test"
    query, verifier, params = authorize(idp, http)
    exchange(idp, http, query["code"], verifier)
    (auth,) = idp.requests_to("authorize")
    assert auth.method == "GET" and auth.path == "/authorize"
    assert auth.query["code_challenge"] == params["code_challenge"]
    assert auth.query["code_challenge_method"] == "S256"
    assert auth.headers["User-Agent"] == "anaconda-auth/test"
    (tok,) = idp.requests_to("token")
    assert tok.form["code_verifier"] == verifier and tok.form["grant_type"] == "authorization_code"
    idp.clear_requests()
    assert idp.requests == []


def test_provider_logs_carry_no_secrets(
    idp: IdentityProvider, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        query, verifier, params = authorize(idp, http)
        tokens = exchange(idp, http, query["code"], verifier).json()
        http.get(f"{idp.url}/device?user_code=ABCD-EFGH")
    server_side = ("anaconda_auth", "authlib", "werkzeug", "flask")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(server_side))
    assert "/authorize" in text  # the provider does log requests ...
    for secret in (query["code"], verifier, params["state"], tokens["access_token"], "ABCD"):
        assert secret not in text  # ... but not what they carry


# -- module layout ---------------------------------------------------------------------------


def test_published_names_stay_importable() -> None:
    """Names published by ``idp`` and ``oauth_server`` before the split still import there."""
    from anaconda_auth.plugins.testing import idp, oauth_server

    for name in ("IdentityProvider", "Faults", "RecordedRequest", "create_app", "main"):
        assert callable(getattr(idp, name)), name
    assert idp.DEFAULT_API_KEY_SCOPES == ["cloud:read", "cloud:write", "repo:read"]
    for name in ("User", "Client", "Settings", "ProviderState", "build_authorization_server"):
        assert callable(getattr(oauth_server, name)), name
    assert oauth_server.SCOPES == ["openid", "email", "profile", "offline_access"]


def test_server_certificate_is_for_loopback_only(idp: IdentityProvider) -> None:
    from cryptography import x509

    pem = idp.tls.cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert pem.endswith(idp.ca_path.read_bytes())  # the chain up to the CA, as servers send it


# -- standalone ------------------------------------------------------------------------------


def test_standalone_prints_config_and_serves(tmp_path: Path) -> None:
    env_file = tmp_path / "idp.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANACONDA_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "anaconda_auth.plugins.testing.idp",
            "--auto-approve",
            "--api-key-lifetime",
            "600",
            "--print-env",
            str(env_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
        )
        domain = exports["ANACONDA_AUTH_DOMAIN"]
        ca = exports["ANACONDA_AUTH_SSL_VERIFY"]
        assert domain.startswith("127.0.0.1:") and Path(ca).is_file()
        with requests.Session() as s:
            s.trust_env = False
            doc = s.get(f"https://{domain}/.well-known/openid-configuration", verify=ca).json()
        assert doc["issuer"] == f"https://{domain}"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"export ANACONDA_AUTH_DOMAIN={domain}" in out
    assert f"ANACONDA_AUTH_SSL_VERIFY={ca}" in out and "Ctrl-C" in out
    assert not Path(ca).exists()  # the throwaway CA is gone with the provider


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("anaconda-auth-idp")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--print-env" in done.stdout


# -- the pytest plugin -----------------------------------------------------------------------


def test_plugin_import_is_cheap() -> None:
    heavy = ["flask", "authlib", "werkzeug", "cryptography", "joserfc"]
    assert modules_loaded_by(["anaconda_auth.plugins.testing.pytest_plugin"], heavy) == []


def test_fixtures_in_a_downstream_project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_downstream=textwrap.dedent(
            """
            import os
            import requests

            def test_home(anaconda_auth_home, anaconda_idp):
                assert os.environ["ANACONDA_AUTH_DOMAIN"] == anaconda_idp.domain
                assert os.environ["ANACONDA_AUTH_SSL_VERIFY"] == str(anaconda_idp.ca_path)
                assert "ANACONDA_AUTH_API_KEY" not in os.environ
                assert os.environ["HOME"] == str(anaconda_auth_home)
                anaconda_idp.faults.discovery_status = 500

            def test_faults_do_not_leak(anaconda_idp):
                assert anaconda_idp.faults.discovery_status is None
                r = requests.get(
                    anaconda_idp.url + "/.well-known/openid-configuration",
                    verify=str(anaconda_idp.ca_path),
                )
                assert r.status_code == 200

            def test_same_provider_for_the_session(anaconda_idp, anaconda_idp_session):
                assert anaconda_idp is anaconda_idp_session

            def test_logged_in(anaconda_logged_in, anaconda_idp):
                from anaconda_auth.token import TokenInfo

                info = TokenInfo.load()
                assert info.domain == anaconda_idp.domain == anaconda_logged_in.domain
                assert info.source == "anaconda-keyring" and not info.expired
                assert info.username == anaconda_logged_in.email == "alice@example.com"
                assert anaconda_logged_in.api_key not in repr(anaconda_logged_in)
                (minted,) = anaconda_idp.minted_api_keys
                assert minted["email"] == "alice@example.com"
                r = requests.get(
                    anaconda_idp.url + "/api/account",
                    headers={"Authorization": "Bearer " + info.get_access_token()},
                    verify=str(anaconda_idp.ca_path),
                )
                assert r.json()["user"]["email"] == "alice@example.com"
            """
        )
    )
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "leaked")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_silent_connection_does_not_block_others(idp: IdentityProvider) -> None:
    with socket.create_connection(("127.0.0.1", idp.port), timeout=10), idp.http_session() as s:
        assert s.get(f"{idp.url}/jwks.json", timeout=5).ok


def test_access_token_lifetime_by_grant(idp: IdentityProvider, http: requests.Session) -> None:
    idp.settings.access_token_lifetime_by_grant = {"refresh_token": 42}
    tokens = login(idp, http)
    assert tokens["expires_in"] == idp.settings.access_token_lifetime
    r = refresh(idp, http, tokens["refresh_token"])
    assert r.json()["expires_in"] == 42
    claims = verify_jwt(idp, http, r.json()["access_token"], audience=PUBLIC_CLIENT_ID)
    assert claims["exp"] - time.time() == pytest.approx(42, abs=5)


def test_browser_stand_in_denies_and_reports_errors(
    idp: IdentityProvider, http: requests.Session
) -> None:
    _, challenge = pkce()
    params = auth_params(challenge, redirect_uri="http://127.0.0.1:1/cb")
    url = f"{idp.url}/authorize?{urlencode(params)}"
    argv = [a.replace("%s", url) for a in shlex.split(idp.browser_command_for(deny=True))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1  # the loopback redirect (port 1) cannot be reached ...
    (post,) = [r for r in idp.requests_to("authorize") if r.method == "POST"]
    assert post.form["action"] == "deny"  # ... after pressing Deny
    bad = [a.replace("%s", f"{idp.url}/api/status/404") for a in shlex.split(idp.browser_command)]
    assert subprocess.run(bad, capture_output=True, timeout=60).returncode == 2


def test_readme_fixture_examples(pytester: pytest.Pytester) -> None:
    """The example tests in the README's "Testing your package" section pass as written."""
    readme = Path(__file__).parents[1] / "README.md"
    section = readme.read_text().split("## Testing your package against anaconda-auth")[1]
    code = section.split("```python\n")[1].split("```")[0]
    pytester.makepyfile(test_readme_examples=code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=code.count("\ndef test_"))
