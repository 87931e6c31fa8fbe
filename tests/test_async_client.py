"""AsyncBaseClient (httpx) against real HTTPS servers on 127.0.0.1 (own throwaway CA, real TLS)."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from anaconda_auth.plugins.testing.ca import create_tls_files
from support.https_server import ConnectProxy, EchoServer
from support.processes import modules_loaded_by, run_python

from anaconda_auth.async_client import AsyncBaseClient
from anaconda_auth.http.hostname import client_hostname
from anaconda_auth.token import TokenInfo

SECRET = "sk-test-secret-key-0123456789"
CLIENT_SUBJECT = "organizationName=anaconda-auth testing,commonName=test-client"

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_tls_files(tmp_path_factory.mktemp("pki"), client_name="test-client")


@pytest.fixture
def server(pki: Any) -> Iterator[Any]:
    with EchoServer(pki) as srv:
        yield srv


@pytest.fixture
def second_server(pki: Any) -> Iterator[Any]:
    with EchoServer(pki) as srv:
        yield srv


def make_client(server: Any, pki: Any, **kwargs: Any) -> AsyncBaseClient:
    kwargs.setdefault("domain", server.netloc)
    kwargs.setdefault("ssl_verify", str(pki.ca_path))
    return AsyncBaseClient(**kwargs)


async def get(client: AsyncBaseClient, *urls: str, **kwargs: Any) -> list[httpx.Response]:
    async with client:
        return [await client.get(url, **kwargs) for url in urls]


# ---------------------------------------------------------------------------------------------
# URLs and headers
# ---------------------------------------------------------------------------------------------


def test_headers_and_relative_urls(server: Any, pki: Any) -> None:
    client = make_client(
        server,
        pki,
        base_uri=f"{server.url}/api/v2/",
        domain=None,
        user_agent="my-tool/1.0",
        api_version="2024-01",
        extra_headers={"X-Extra": "yes", "User-Agent": "not-this", "Api-Version": "nor-this"},
    )
    (response,) = run(get(client, "things?x=1"))
    assert response.status_code == 200
    seen = server.last
    assert seen.path == "/api/v2/things?x=1"
    assert seen.header("User-Agent") == "my-tool/1.0"
    assert seen.header("Api-Version") == "2024-01"
    assert seen.header("X-Client-Hostname") == client_hostname(True)
    assert seen.header("X-Extra") == "yes"
    assert seen.header("Authorization") is None  # nothing stored, no api_key


def test_absolute_path_joins_onto_the_site_root(server: Any, pki: Any) -> None:
    # BaseClient's urljoin rules, not httpx's base_url appending
    client = make_client(server, pki, base_uri=f"{server.url}/api/v2/", domain=None)
    run(get(client, "/root"))
    assert server.last.path == "/root"


def test_default_user_agent_and_no_api_version(server: Any, pki: Any) -> None:
    run(get(make_client(server, pki), "/"))
    assert (server.last.header("User-Agent") or "").startswith("anaconda-auth/")
    assert server.last.header("Api-Version") is None


def test_min_api_version_warns_once_with_0_15s_text(server: Any, pki: Any) -> None:
    from anaconda_auth.client import ApiVersionWarning

    server.routes["/v"] = lambda req: (200, {"Min-Api-Version": "2023.02.02"}, {})
    for ours, expected in (("2023.01.01", 1), ("2023.03.01", 0)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            (response,) = run(get(make_client(server, pki, api_version=ours), "/v"))
        assert response.status_code == 200
        found = [w for w in caught if issubclass(w.category, ApiVersionWarning)]
        assert len(found) == expected  # once, though request() and send() both look
        if expected:
            assert str(found[0].message) == (
                "Client API version is 2023.01.01, minimum supported API version is "
                "2023.02.02. You may need to update your client."
            )


# ---------------------------------------------------------------------------------------------
# Credentials: only for the configured origins
# ---------------------------------------------------------------------------------------------


def test_explicit_api_key_only_to_the_site(server: Any, second_server: Any, pki: Any) -> None:
    client = make_client(server, pki, api_key=SECRET)
    run(get(client, "/", f"{second_server.url}/other", f"https://localhost:{server.port}/x"))
    assert second_server.last.path == "/other"
    assert second_server.last.header("Authorization") is None
    assert server.last.path == "/x"  # same port, another host name
    assert server.last.header("Authorization") is None
    assert server.requests[0].header("Authorization") == f"Bearer {SECRET}"


def test_auth_none_sends_no_credentials(server: Any, pki: Any) -> None:
    run(get(make_client(server, pki, api_key=SECRET), "/", auth=None))
    assert server.last.header("Authorization") is None


def test_stored_key_to_the_site_not_to_another_host(
    server: Any, second_server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "anaconda-keyring")
    client = make_client(server, pki)

    async def scenario() -> None:
        async with client:
            await client.get("/before")
            assert server.last.header("Authorization") is None
            # a login after the client was built is seen on the next request
            TokenInfo(domain=server.netloc, api_key=SECRET).save()
            await client.get("/after")
            assert server.last.header("Authorization") == f"Bearer {SECRET}"
            await client.get(f"{second_server.url}/elsewhere")
            assert second_server.last.header("Authorization") is None

    run(scenario())


def test_redirect_to_another_host_drops_the_key(server: Any, second_server: Any, pki: Any) -> None:
    server.routes["/go"] = lambda req: (302, {"Location": f"{second_server.url}/landed"}, b"")
    client = make_client(server, pki, api_key=SECRET, httpx_kwargs={"follow_redirects": True})
    (response,) = run(get(client, "/go"))
    assert response.status_code == 200
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    assert second_server.last.path == "/landed"
    assert second_server.last.header("Authorization") is None


def test_secret_not_in_reprs(server: Any, pki: Any) -> None:
    client = make_client(server, pki, api_key=SECRET)
    assert SECRET not in repr(client) + repr(client.auth) + repr(client.config)


# ---------------------------------------------------------------------------------------------
# TLS, proxies, timeout
# ---------------------------------------------------------------------------------------------


def test_ssl_verify_with_the_ca_path(server: Any, pki: Any) -> None:
    (response,) = run(get(make_client(server, pki), "/"))
    assert response.status_code == 200


def test_without_the_ca_the_connection_fails(server: Any, pki: Any) -> None:
    client = make_client(server, pki, ssl_verify=True)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        run(get(client, "/"))
    assert server.requests == []


def test_ssl_verify_false(server: Any) -> None:
    (response,) = run(get(AsyncBaseClient(domain=server.netloc, ssl_verify=False), "/"))
    assert response.status_code == 200


def test_client_certificate(pki: Any) -> None:
    with EchoServer(pki, require_client_cert=True) as mtls:
        client = make_client(
            mtls,
            pki,
            client_cert=str(pki.client_cert_path),
            client_cert_key=str(pki.client_key_path),
        )
        run(get(client, "/"))
        assert mtls.last.client_cert_subject == CLIENT_SUBJECT


def test_proxy_servers(server: Any, pki: Any) -> None:
    with ConnectProxy() as proxy:
        client = make_client(server, pki, api_key=SECRET, proxy_servers={"https": proxy.url})
        (response,) = run(get(client, "/via-proxy"))
        assert response.status_code == 200
        assert [(m, t) for m, t, _ in proxy.requests] == [("CONNECT", server.netloc)]
        # the key went through the tunnel to the site, never to the proxy
        assert not any(SECRET in line for _, _, headers in proxy.requests for line in headers)
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_timeout_from_http_timeout(server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(req: Any) -> tuple[int, dict[str, str], Any]:
        time.sleep(1.5)
        return 200, {}, b"late"

    server.routes["/slow"] = slow
    monkeypatch.setenv("ANACONDA_AUTH_HTTP_TIMEOUT", "0.3")
    client = make_client(server, pki)
    assert client.timeout.read == pytest.approx(0.3)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        run(get(client, "/slow"))
    assert time.monotonic() - started < 1.4


def test_httpx_kwargs_cannot_override_the_configuration(server: Any, pki: Any) -> None:
    with pytest.raises(TypeError, match="verify"):
        make_client(server, pki, httpx_kwargs={"verify": False})


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------


def test_importing_the_sync_client_does_not_import_httpx() -> None:
    assert modules_loaded_by(["anaconda_auth.client"], ["httpx", "httpcore", "anyio"]) == []


def test_missing_httpx_names_the_extra() -> None:
    code = """
        import sys
        sys.modules["httpx"] = None  # as if not installed
        try:
            import anaconda_auth.async_client
        except ImportError as exc:
            print(exc)
        """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "anaconda-auth[async]" in out.stdout
