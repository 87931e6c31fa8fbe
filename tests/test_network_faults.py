"""Network hardening: bounded network calls, safe retries, secret headers confined to the site,
odd server replies, no silent browser wait.

Every server here is real: :mod:`support.fault_server` on the loopback interface, stalling,
dripping, resetting or answering oddly. Calls that hung before the fix run in a thread with a
join timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from support.fault_server import Drip, FaultServer, Reply, Reset, Sequence, Stall
from support.login import RecordingUI

from anaconda_auth.client import BaseClient
from anaconda_auth.config import AnacondaAuthSite
from anaconda_auth.flows import browser, device, discovery
from anaconda_auth.flows.discovery import OpenIDConfiguration
from anaconda_auth.flows.tokens import OAuthError, token_request
from anaconda_auth.http import retry
from anaconda_auth.http import session as _http
from anaconda_auth.http.responses import UnexpectedResponseError

#: Longest any call below may take before it counts as hanging.
BOUND = 5.0


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def other() -> Iterator[FaultServer]:
    """A second server: another origin (another port)."""
    with FaultServer() as srv:
        yield srv


def bounded(call: Callable[[], Any], limit: float = BOUND) -> tuple[Any, float]:
    """``call()``'s result or exception and how long it took; fails if it outlives ``limit``."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still running after {limit} s: the call is not bounded"
    return outcome[0], time.monotonic() - start


def client(srv: FaultServer, **kwargs: Any) -> BaseClient:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("http_timeout", 0.5)
    site = AnacondaAuthSite(domain="anaconda.example", **kwargs)
    c = BaseClient(site=site, base_uri=srv.url)
    return c


def login_session(timeout: float = 0.5) -> _http.LoginSession:
    return _http.make_session(AnacondaAuthSite(domain="anaconda.example", http_timeout=timeout))


# -- item 2: every call bounded ---------------------------------------------------------------


def test_client_default_timeout_from_http_timeout(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts and never answers: ``BaseClient().get`` ends after http_timeout."""
    monkeypatch.setenv("ANACONDA_AUTH_HTTP_TIMEOUT", "0.5")
    server.routes["/api/account"] = Stall()
    c = BaseClient(base_uri=server.url)
    assert c.timeout == (0.5, 0.5)
    result, took = bounded(lambda: c.get("/api/account"))
    assert isinstance(result, requests.Timeout)
    assert took < 3
    assert server.hits["/api/account"] == 1  # a read timeout is not retried


def test_per_request_timeout_overrides_the_default(server: FaultServer) -> None:
    server.routes["/slow"] = Stall()
    c = client(server, http_timeout=60)
    result, took = bounded(lambda: c.get("/slow", timeout=0.3))
    assert isinstance(result, requests.Timeout)
    assert took < 3


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_login_request_has_a_total_deadline(server: FaultServer, drip_headers: bool) -> None:
    """A reply dripping a byte every 0.1 s never trips a 0.5 s read timeout; the total does."""
    server.routes["/token"] = Drip(drip_headers=drip_headers)
    session = login_session(0.5)
    result, took = bounded(
        lambda: _http.send(session, "POST", server.url + "/token", what="The token request")
    )
    assert isinstance(result, _http.ProviderError), result
    assert "no response from" in str(result) and "within 0.5 s" in str(result)
    assert took < 2


def test_device_login_ends_when_the_token_endpoint_drips(server: FaultServer) -> None:
    """``login --device`` against a dripping token endpoint ends at the deadline (was > 70 s)."""
    server.routes["/device"] = Reply(
        200,
        b'{"device_code": "dc", "user_code": "UC", "verification_uri": "http://x/v",'
        b' "interval": 0, "expires_in": 600}',
    )
    server.routes["/token"] = Drip()
    provider = OpenIDConfiguration.from_document(
        {
            "authorization_endpoint": server.url + "/authorize",
            "token_endpoint": server.url + "/token",
            "device_authorization_endpoint": server.url + "/device",
        },
        server.url,
    )
    config = AnacondaAuthSite(domain="anaconda.example", http_timeout=0.5)
    session = _http.make_session(config)
    result, took = bounded(
        lambda: device.run(config, provider, session, RecordingUI(), sleep=lambda s: None)
    )
    assert isinstance(result, _http.ProviderError), result
    assert server.url + "/token" in str(result)
    assert took < 2


def test_discovery_reply_size_is_capped(server: FaultServer) -> None:
    server.routes["/.well-known/openid-configuration"] = Reply(
        200, b'{"a": "' + b"x" * (3 << 20) + b'"}', {"Content-Type": "application/json"}
    )
    result, _ = bounded(
        lambda: discovery._fetch(server.url + "/.well-known/openid-configuration", login_session())
    )
    assert isinstance(result, _http.ProviderError), result  # (DiscoveryError's base)
    assert "larger than 1024 KiB" in str(result)


def test_streamed_token_reply_size_is_capped(server: FaultServer) -> None:
    """No Content-Length (the body ends with the connection): counted while reading."""

    class Endless(Reply):
        def serve(self, conn: Any, srv: FaultServer) -> None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            for _ in range(64):
                conn.sendall(b"x" * 65536)

    server.routes["/token"] = Endless()
    provider = OpenIDConfiguration(
        authorization_endpoint=server.url + "/a", token_endpoint=server.url + "/token"
    )
    result, _ = bounded(lambda: token_request(login_session(2), provider, {}, what="Token"))
    assert isinstance(result, _http.ProviderError), result
    assert "larger than" in str(result)


def test_account_reply_size_is_capped(server: FaultServer) -> None:
    server.routes["/api/account"] = Reply(200, b'{"user": "' + b"x" * (2 << 20) + b'"}')
    result, _ = bounded(lambda: client(server).account)
    assert isinstance(result, UnexpectedResponseError), result
    assert server.url + "/api/account" in str(result)


# -- item 3: retries where they are safe -------------------------------------------------------

NOW = {"Retry-After": "0"}


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the exponential wait between them: these tests count attempts (the
    wait itself is urllib3's; ``Retry-After`` is checked in test_retry_after_is_honoured)."""
    monkeypatch.setattr(retry, "BACKOFF_FACTOR", 0.0)
    monkeypatch.setattr(retry, "BACKOFF_JITTER", 0.0)
    monkeypatch.setattr(retry, "_retries", {})


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_transient_statuses(
    server: FaultServer, status: int, no_backoff: None
) -> None:
    server.routes["/x"] = Sequence([Reply(status, b"", NOW), Reply(status, b"", NOW), Reply(200)])
    response = client(server, max_retries=2).get("/x")
    assert response.status_code == 200
    assert server.hits["/x"] == 3


def test_retries_are_bounded(server: FaultServer, no_backoff: None) -> None:
    server.routes["/x"] = Reply(503, b"", NOW)
    response = client(server, max_retries=2).get("/x")
    assert response.status_code == 503  # the last reply, no exception
    assert server.hits["/x"] == 3


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_idempotent_methods_are_retried_after_a_reset(server: FaultServer, method: str) -> None:
    server.routes["/x"] = Sequence([Reset(), Reply(200)])
    response = client(server, max_retries=1).request(method, "/x")
    assert response.status_code == 200
    assert server.hits["/x"] == 2


def test_post_is_never_retried(server: FaultServer) -> None:
    server.routes["/x"] = Sequence([Reply(503, b"", NOW), Reply(200)])
    assert client(server, max_retries=3).post("/x", data=b"{}").status_code == 503
    server.routes["/y"] = Sequence([Reset(), Reply(200)])
    with pytest.raises(requests.ConnectionError):
        client(server, max_retries=3).post("/y", data=b"{}")
    assert (server.hits["/x"], server.hits["/y"]) == (1, 1)


def test_post_to_a_closed_port_is_not_retried_and_fails_as_requests_does() -> None:
    from support.login import free_port

    url = f"http://127.0.0.1:{free_port()}/x"
    site = AnacondaAuthSite(domain="a.example", max_retries=3, http_timeout=2)
    start = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        BaseClient(site=site).post(url, data=b"{}")
    assert time.monotonic() - start < 0.5  # no backoff: a single attempt


def test_max_retries_zero_turns_retries_off(server: FaultServer) -> None:
    server.routes["/x"] = Sequence([Reply(503, b"", NOW), Reply(200)])
    assert client(server, max_retries=0).get("/x").status_code == 503
    assert server.hits["/x"] == 1


def test_default_max_retries_from_the_config(server: FaultServer, no_backoff: None) -> None:
    assert AnacondaAuthSite(domain="a.example").max_retries == 2
    server.routes["/x"] = Sequence([Reply(503, b"", NOW), Reply(503, b"", NOW), Reply(200)])
    c = BaseClient(site=AnacondaAuthSite(domain="a.example", http_timeout=1), base_uri=server.url)
    assert c.get("/x").status_code == 200


def test_retry_after_is_honoured(server: FaultServer) -> None:
    server.routes["/x"] = Sequence([Reply(429, b"", {"Retry-After": "1"}), Reply(200)])
    start = time.monotonic()
    assert client(server, max_retries=1).get("/x").status_code == 200
    assert time.monotonic() - start >= 0.9


# -- item 5: secret extra headers only for the site -------------------------------------------


def _sent(srv: FaultServer, path: str) -> dict[str, str]:
    return {k.lower(): v for m, p, k_v in srv.requests if p == path for k, v in k_v.items()}


def test_secret_extra_headers_only_go_to_the_site(server: FaultServer, other: FaultServer) -> None:
    server.routes["/x"] = Reply(200)
    other.routes["/y"] = Reply(200)
    c = client(server, extra_headers={"X-Api-Key": "s3cret-key", "X-Trace": "t1"})
    c.get("/x")
    c.get(other.url + "/y")
    assert _sent(server, "/x")["x-api-key"] == "s3cret-key"
    foreign = _sent(other, "/y")
    assert foreign["x-trace"] == "t1"  # not a secret: sent everywhere, as before
    assert "x-api-key" not in foreign


def test_secret_headers_are_stripped_on_a_redirect_off_the_site(
    server: FaultServer, other: FaultServer
) -> None:
    server.routes["/go"] = Reply(302, b"", {"Location": other.url + "/landing"})
    other.routes["/landing"] = Reply(200)
    c = client(server, extra_headers={"X-Api-Key": "s3cret-key"}, api_key="the-api-key")
    assert c.get("/go").status_code == 200
    assert _sent(server, "/go")["x-api-key"] == "s3cret-key"
    landing = _sent(other, "/landing")
    assert "x-api-key" not in landing and "authorization" not in landing


def test_async_client_confines_secret_headers_too(server: FaultServer, other: FaultServer) -> None:
    import asyncio

    from anaconda_auth.async_client import AsyncBaseClient

    server.routes["/go"] = Reply(302, b"", {"Location": other.url + "/landing"})
    other.routes["/landing"] = Reply(200)
    other.routes["/direct"] = Reply(200)

    async def main() -> None:
        site = AnacondaAuthSite(domain="anaconda.example", extra_headers={"X-Api-Key": "s3cret"})
        async with AsyncBaseClient(
            site=site, base_uri=server.url, httpx_kwargs={"follow_redirects": True}
        ) as c:
            await c.get("/go")
            await c.get(other.url + "/direct")

    asyncio.run(main())
    assert _sent(server, "/go")["x-api-key"] == "s3cret"
    assert "x-api-key" not in _sent(other, "/landing")
    assert "x-api-key" not in _sent(other, "/direct")


# -- item 9: odd server replies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"<html>oops</html>", "did not return JSON"), (b'[{"user": 1}]', "JSON list")],
)
def test_account_reply_that_is_not_a_json_object(
    server: FaultServer, body: bytes, expected: str
) -> None:
    server.routes["/api/account"] = Reply(200, body, {"Content-Type": "text/html"})
    with pytest.raises(UnexpectedResponseError, match=expected) as info:
        _ = client(server).account
    assert server.url + "/api/account" in str(info.value)
    assert isinstance(info.value, ValueError)  # as response.json()'s errors were


def test_provider_error_text_has_no_terminal_escapes(server: FaultServer) -> None:
    server.routes["/token"] = Reply(
        400,
        b'{"error": "invalid_grant\\u001b[31m", "error_description":'
        b' "\\u001b]0;pwned\\u0007\\u001b[2Jbad\\u0000 code\\u009b1m"}',
    )
    provider = OpenIDConfiguration(
        authorization_endpoint=server.url + "/a", token_endpoint=server.url + "/token"
    )
    with pytest.raises(OAuthError) as info:
        token_request(login_session(), provider, {}, what="Exchanging the code")
    text = str(info.value)
    assert text == "Exchanging the code failed: invalid_grant (bad code)"
    server.routes["/device"] = Reply(400, b'{"error": "x\\u001b[2J", "error_description": "d"}')
    response = _http.send(login_session(), "POST", server.url + "/device", what="w")
    assert _http.error_detail(response) == "x: d"


# -- item 10: a browser login without a browser says so at once -------------------------------


def test_browser_login_without_a_browser_says_so(
    login_home: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BROWSER", "false")  # a browser command that fails
    provider = OpenIDConfiguration(
        authorization_endpoint="https://127.0.0.1:9/authorize",
        token_endpoint="https://127.0.0.1:9/token",
    )
    config = AnacondaAuthSite(domain="anaconda.example")
    ui = RecordingUI()
    result, _ = bounded(
        lambda: browser.run(config, provider, login_session(), ui, lambda t: t, timeout=0.3)
    )
    assert isinstance(result, Exception)  # the wait timed out: no browser came back
    err = capsys.readouterr().err
    assert "No web browser could be opened" in err
    assert ui.authorize_urls[0] in err
    assert ui.waits == [
        "Waiting up to 0.3 s for you to finish logging in in the browser (Ctrl-C to cancel)..."
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"<html>a proxy's login page</html>", "did not return JSON"), (b"[1, 2]", "JSON list")],
    ids=["html", "list"],
)
def test_whoami_names_the_url_of_an_odd_account_reply(
    tmp_path: Any, body: bytes, expected: str
) -> None:
    """``anaconda auth whoami`` against a site whose /api/account is not a JSON object: a
    clear message naming the URL, exit code 1, no traceback."""
    import os
    import subprocess

    from anaconda_auth.plugins.testing.ca import create_tls_files
    from support.cli import ANACONDA
    from support.https_server import EchoServer

    pki = create_tls_files(tmp_path / "pki")
    with EchoServer(pki) as site:
        site.routes["/api/account"] = lambda request: (200, {"Content-Type": "text/html"}, body)
        env = {
            **os.environ,
            "ANACONDA_AUTH_DOMAIN": f"127.0.0.1:{site.port}",
            "ANACONDA_AUTH_SSL_VERIFY": str(pki.ca_path),
            "ANACONDA_AUTH_API_KEY": "an-api-key",
            "ANACONDA_AUTH_HTTP_TIMEOUT": "5",
        }
        result = subprocess.run(
            [ANACONDA, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1, result
    assert f"https://127.0.0.1:{site.port}/api/account" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_whoami_against_a_server_that_never_answers_ends(tmp_path: Any) -> None:
    """Was: hung forever, even with ANACONDA_AUTH_HTTP_TIMEOUT=3."""
    import os
    import subprocess

    from anaconda_auth.plugins.testing.ca import create_tls_files
    from support.cli import ANACONDA
    from support.https_server import EchoServer

    release = threading.Event()

    def stall(request: Any) -> tuple[int, dict[str, str], bytes]:
        release.wait(30)
        return 200, {}, b"{}"

    pki = create_tls_files(tmp_path / "pki")
    with EchoServer(pki) as site:
        site.routes["/api/account"] = stall
        env = {
            **os.environ,
            "ANACONDA_AUTH_DOMAIN": f"127.0.0.1:{site.port}",
            "ANACONDA_AUTH_SSL_VERIFY": str(pki.ca_path),
            "ANACONDA_AUTH_API_KEY": "an-api-key",
            "ANACONDA_AUTH_HTTP_TIMEOUT": "0.5",
        }
        start = time.monotonic()
        try:
            result = subprocess.run(
                [ANACONDA, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=20
            )
        finally:
            release.set()
    assert time.monotonic() - start < 15
    assert result.returncode == 1, result
    assert f"127.0.0.1:{site.port} did not answer in time" in result.stderr
    assert "ANACONDA_AUTH_HTTP_TIMEOUT" in result.stderr  # what to change to wait longer
    assert "Traceback" not in result.stderr


def test_cli_error_lines_carry_no_terminal_escapes_from_the_server(tmp_path: Any) -> None:
    """A server's error text (reason phrase and JSON message) reaches the terminal without its
    escape sequences: it cannot retitle, recolour or clear the user's terminal."""
    import os
    import subprocess

    from anaconda_auth.plugins.testing.ca import create_tls_files
    from support.cli import ANACONDA
    from support.https_server import EchoServer

    hostile = "\x1b]0;pwned\x07boom \x1b[2J\x1b[31mred\x1b[0m"

    def fail(request: Any) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"message": hostile}).encode()
        return 500, {"Content-Type": "application/json"}, body

    pki = create_tls_files(tmp_path / "pki")
    with EchoServer(pki) as site:
        site.routes["/api/account"] = fail
        env = {
            **os.environ,
            "ANACONDA_AUTH_DOMAIN": f"127.0.0.1:{site.port}",
            "ANACONDA_AUTH_SSL_VERIFY": str(pki.ca_path),
            "ANACONDA_AUTH_API_KEY": "an-api-key",
            "ANACONDA_AUTH_MAX_RETRIES": "0",
        }
        result = subprocess.run(
            [ANACONDA, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1, result
    assert "500" in result.stderr and "boom" in result.stderr and "red" in result.stderr
    assert "\x1b]" not in result.stderr and "\x1b[2J" not in result.stderr
    assert "\x07" not in result.stderr
