"""BaseClient against real HTTPS servers on 127.0.0.1 (own throwaway CA, real TLS)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from anaconda_auth.plugins.testing.ca import create_tls_files
from support.config_files import write_config_toml
from support.https_server import ConnectProxy, EchoServer
from support.processes import modules_loaded_by, run_python
from support.tokens import jwt

import anaconda_auth
from anaconda_auth.client import (
    AnacondaResponse,
    ApiVersionWarning,
    BaseClient,
    SSLContextAdapter,
    _BearerAuth,
    _origin,
    _version_key,
    client_factory,
)
from anaconda_auth.config import AnacondaAuthSite
from anaconda_auth.exceptions import (
    AuthenticationMissingError,
    ConfigError,
    InvalidAuthentication,
    UnknownSiteName,
)
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.manager import get_plugin_manager
from anaconda_auth.token import TokenInfo

SECRET = "sk-test-secret-key-0123456789"
#: The subject of the client certificate of the ``pki`` fixture, as the server sees it.
CLIENT_SUBJECT = "organizationName=anaconda-auth testing,commonName=test-client"


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_tls_files(tmp_path_factory.mktemp("pki"), client_name="test-client")


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_tls_files(tmp_path_factory.mktemp("other-pki"), client_name="other-client")


@pytest.fixture
def server(pki: Any) -> Iterator[Any]:
    with EchoServer(pki) as srv:
        yield srv


@pytest.fixture
def second_server(pki: Any) -> Iterator[Any]:
    with EchoServer(pki) as srv:
        yield srv


def make_client(server: Any, pki: Any, **kwargs: Any) -> BaseClient:
    kwargs.setdefault("domain", server.netloc)
    kwargs.setdefault("ssl_verify", str(pki.ca_path))
    return BaseClient(**kwargs)


class _FileBackend:
    """A writable storage backend plugin (JSON file) for tests that save tokens."""

    name = "test-file-store"
    description = "test store"
    priority = 1
    read_only = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def _data(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def get_password(self, service: str, username: str) -> str | None:
        return self._data().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._data()
        data[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._data()
        del data[f"{service}/{username}"]
        self.path.write_text(json.dumps(data))


@pytest.fixture
def file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _FileBackend:
    backend = _FileBackend(tmp_path / "tokens.json")

    class Plugin:
        @hookimpl
        def anaconda_auth_storage_backends(self) -> Iterable[Any]:
            return [backend]

    get_plugin_manager().register(Plugin(), name="test-file-store")
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", backend.name)
    return backend


# ---------------------------------------------------------------------------------------------
# URLs and headers
# ---------------------------------------------------------------------------------------------


def test_relative_url_joins_onto_the_domain(server: Any, pki: Any) -> None:
    client = make_client(server, pki)
    response = client.get("/api/things?x=1")
    assert response.status_code == 200
    assert response.url == f"{server.url}/api/things?x=1"
    assert server.last.path == "/api/things?x=1"
    assert isinstance(response, AnacondaResponse)


def test_base_uri_replaces_the_domain(server: Any, pki: Any) -> None:
    client = BaseClient(base_uri=f"{server.url}/api/v2/", ssl_verify=str(pki.ca_path))
    client.get("items")
    assert server.last.path == "/api/v2/items"
    client.get("/root")
    assert server.last.path == "/root"
    assert client.base_uri == f"{server.url}/api/v2/"


def test_domain_and_base_uri_are_exclusive(server: Any) -> None:
    with pytest.raises(ValueError, match="only one"):
        BaseClient(domain="example.com", base_uri=server.url)


def test_default_headers(server: Any, pki: Any) -> None:
    make_client(server, pki).get("/")
    seen = server.last
    assert seen.header("User-Agent") == f"anaconda-auth/{anaconda_auth.__version__}"
    assert seen.header("Api-Version") is None
    assert seen.header("Authorization") is None
    name = socket.gethostname().removesuffix(".local")
    digest = hashlib.blake2b(name.encode(), digest_size=16, person=b"hostname").digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert seen.header("X-Client-Hostname") == expected
    assert name not in expected


def test_hostname_is_read_through_anaconda_auth_utils(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.15's patch point: ``anaconda_auth.utils.gethostname``, read when a client is built."""
    import anaconda_auth.utils

    monkeypatch.setattr(anaconda_auth.utils, "gethostname", lambda: "build-host.local")
    make_client(server, pki, hash_hostname=False).get("/")
    assert server.last.header("X-Client-Hostname") == "build-host"
    make_client(server, pki).get("/")
    digest = hashlib.blake2b(b"build-host", digest_size=16, person=b"hostname").digest()
    assert server.last.header("X-Client-Hostname") == (
        base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    )


def test_hash_hostname_false_sends_the_plain_name(server: Any, pki: Any) -> None:
    make_client(server, pki, hash_hostname=False).get("/")
    assert server.last.header("X-Client-Hostname") == socket.gethostname().removesuffix(".local")


def test_hash_hostname_from_the_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_HASH_HOSTNAME", "false")
    make_client(server, pki).get("/")
    assert server.last.header("X-Client-Hostname") == socket.gethostname().removesuffix(".local")


def test_user_agent_and_api_version_arguments(server: Any, pki: Any) -> None:
    make_client(server, pki, user_agent="my-tool/1.2", api_version="2024.01").get("/")
    assert server.last.header("User-Agent") == "my-tool/1.2"
    assert server.last.header("Api-Version") == "2024.01"


class MyClient(BaseClient):
    _user_agent = "my-package/3.4"
    _api_version = "2.1"


def test_subclass_class_attributes(server: Any, pki: Any) -> None:
    client = MyClient(domain=server.netloc, ssl_verify=str(pki.ca_path))
    client.get("/")
    assert server.last.header("User-Agent") == "my-package/3.4"
    assert server.last.header("Api-Version") == "2.1"
    assert client.api_version == "2.1"
    # explicit arguments beat the class attributes
    MyClient(
        domain=server.netloc, ssl_verify=str(pki.ca_path), user_agent="x/1", api_version="3"
    ).get("/")
    assert server.last.header("User-Agent") == "x/1"
    assert server.last.header("Api-Version") == "3"


def test_client_factory(server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", server.netloc)
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(pki.ca_path))
    client = anaconda_auth.client_factory("factory/0.1", api_version="1.0")
    assert client_factory is anaconda_auth.client_factory
    client.get("/x")
    assert server.last.header("User-Agent") == "factory/0.1"
    assert server.last.header("Api-Version") == "1.0"
    assert server.last.path == "/x"


def test_extra_headers_dict_and_json(server: Any, pki: Any) -> None:
    make_client(server, pki, extra_headers={"X-One": "1", "Accept": "application/json"}).get("/")
    assert server.last.header("X-One") == "1"
    assert server.last.header("Accept") == "application/json"
    make_client(server, pki, extra_headers='{"X-Two": "2"}').get("/")
    assert server.last.header("X-Two") == "2"


def test_extra_headers_from_the_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-From-Env": "yes"}')
    make_client(server, pki).get("/")
    assert server.last.header("X-From-Env") == "yes"


def test_extra_headers_never_override_client_headers(server: Any, pki: Any) -> None:
    extra = {
        "user-agent": "evil/1",
        "API-VERSION": "0",
        "X-Client-Hostname": "spoofed",
        "Authorization": "Bearer from-extra",
    }
    client = make_client(
        server, pki, extra_headers=extra, api_version="9", api_key=SECRET, user_agent="good/1"
    )
    client.get("/")
    seen = server.last
    assert seen.header("User-Agent") == "good/1"
    assert seen.header("Api-Version") == "9"
    assert seen.header("X-Client-Hostname") != "spoofed"
    assert seen.header("Authorization") == f"Bearer {SECRET}"


def test_extra_authorization_header_is_only_a_fallback_for_the_site(
    server: Any, second_server: Any, pki: Any
) -> None:
    client = make_client(server, pki, extra_headers={"Authorization": "Token gateway"})
    client.get("/")
    assert server.last.header("Authorization") == "Token gateway"
    client.get(f"{second_server.url}/elsewhere")
    assert second_server.last.header("Authorization") is None
    client.get("/", auth=False)  # type: ignore[arg-type]
    assert server.last.header("Authorization") is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"X-Secret": "hunter2"', "not valid JSON"),
        ("hunter2", "not valid JSON"),
        ('["hunter2"]', "JSON object"),
        ('{"X-Secret": {"nested": "hunter2"}}', "string"),
    ],
)
def test_bad_extra_headers_are_config_errors_without_values(
    server: Any, pki: Any, raw: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match="extra_headers") as info:
        make_client(server, pki, extra_headers=raw)
    assert fragment in str(info.value)
    assert "hunter2" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# Authorization
# ---------------------------------------------------------------------------------------------


def test_api_key_argument_is_sent_to_the_site(server: Any, pki: Any) -> None:
    make_client(server, pki, api_key=SECRET).get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_api_key_from_the_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", SECRET)
    make_client(server, pki).get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_no_token_means_no_authorization_and_no_error(server: Any, pki: Any) -> None:
    response = make_client(server, pki).get("/")
    assert response.ok
    assert server.last.header("Authorization") is None


def test_auth_false_sends_no_credentials(server: Any, pki: Any) -> None:
    client = make_client(server, pki, api_key=SECRET)
    client.get("/", auth=False)  # type: ignore[arg-type]
    assert server.last.header("Authorization") is None
    client.get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_key_is_never_sent_to_another_host_or_port(
    server: Any, second_server: Any, pki: Any
) -> None:
    client = make_client(server, pki, api_key=SECRET)
    # the configured origin, as an absolute URL: sent
    client.get(f"{server.url}/abs")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    # same host name, other port
    client.get(f"{second_server.url}/other-port")
    assert second_server.last.header("Authorization") is None
    # same port, other host name (localhost instead of 127.0.0.1)
    client.get(f"https://localhost:{server.port}/other-host")
    assert server.last.path == "/other-host"
    assert server.last.header("Authorization") is None


def test_stored_key_is_never_sent_to_another_host(
    server: Any, second_server: Any, pki: Any, file_store: _FileBackend
) -> None:
    TokenInfo(domain=server.netloc, api_key=SECRET).save()
    client = make_client(server, pki)
    client.get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    client.get(f"{second_server.url}/x")
    assert second_server.last.header("Authorization") is None


def test_redirect_to_another_host_drops_the_key(server: Any, second_server: Any, pki: Any) -> None:
    server.routes["/go"] = lambda req: (302, {"Location": f"{second_server.url}/landed"}, b"")
    response = make_client(server, pki, api_key=SECRET).get("/go")
    assert response.status_code == 200
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    assert second_server.last.path == "/landed"
    assert second_server.last.header("Authorization") is None


def test_auth_domain_gets_the_key(server: Any, pki: Any) -> None:
    client = make_client(
        server, pki, api_key=SECRET, auth_domain_override=f"localhost:{server.port}"
    )
    client.get(f"https://localhost:{server.port}/auth")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_base_uri_origin_gets_the_stored_key(
    server: Any, pki: Any, file_store: _FileBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the token belongs to the configured domain; base_uri (e.g. a repository host) uses it
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "anaconda.example")
    TokenInfo(domain="anaconda.example", api_key=SECRET).save()
    client = BaseClient(base_uri=f"{server.url}/repo/", ssl_verify=str(pki.ca_path))
    client.get("pkg")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


class MovedClient(BaseClient):
    """Like anaconda-assistant's client: token for one domain, base URI set after __init__."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base_uri = target


def test_base_uri_assigned_after_init_moves_the_credentials(
    server: Any, second_server: Any, pki: Any
) -> None:
    client = MovedClient(
        second_server.url, domain=server.netloc, ssl_verify=str(pki.ca_path), api_key=SECRET
    )
    assert client.base_uri == second_server.url
    client.get("/moved")
    assert second_server.last.path == "/moved"
    assert second_server.last.header("Authorization") == f"Bearer {SECRET}"
    client.get(f"{server.url}/domain")  # the configured domain keeps its key
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    client.get(f"https://localhost:{server.port}/other")
    assert server.last.header("Authorization") is None


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://anaconda.example/x", True),
        ("https://ANACONDA.example:443/x", True),
        ("https://anaconda.example./x", True),
        ("http://anaconda.example/x", False),
        ("https://anaconda.example:8443/x", False),
        ("https://evil.example/?https://anaconda.example/", False),
        ("https://anaconda.example.evil.example/x", False),
        ("https://anaconda.example@evil.example/x", False),
        ("https://id.example/token", True),
        ("https://sub.anaconda.example/x", False),
    ],
)
def test_origin_matching(url: str, sent: bool) -> None:
    origins = frozenset(
        o for o in (_origin("https://anaconda.example"), _origin("https://id.example")) if o
    )
    auth = _BearerAuth("anaconda.example", origins, SECRET)
    prepared = auth(requests.Request("GET", url).prepare())
    assert ("Authorization" in prepared.headers) is sent


def test_stored_key_is_looked_up_on_each_request_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", server.netloc)
    client = make_client(server, pki)
    client.get("/")
    assert server.last.header("Authorization") is None
    # a key that appears after the client was built (the environment storage backend)
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", SECRET)
    client.get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_stored_key_is_looked_up_on_each_request_saved_token(
    server: Any, pki: Any, file_store: _FileBackend
) -> None:
    client = make_client(server, pki)
    client.get("/")
    assert server.last.header("Authorization") is None
    TokenInfo(domain=server.netloc, api_key="first-key").save()  # e.g. a login elsewhere
    client.get("/")
    assert server.last.header("Authorization") == "Bearer first-key"
    TokenInfo(domain=server.netloc, api_key="second-key").save()
    client.get("/")
    assert server.last.header("Authorization") == "Bearer second-key"
    TokenInfo.load(server.netloc).delete()  # logout
    client.get("/")
    assert server.last.header("Authorization") is None


def test_stored_key_with_the_default_storage(server: Any, pki: Any) -> None:
    try:
        TokenInfo(domain=server.netloc, api_key=SECRET).save()
    except Exception as exc:  # the default backend may not be usable on this machine
        pytest.skip(f"default token storage not usable here: {exc}")
    make_client(server, pki).get("/")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_expired_stored_key_is_not_sent(server: Any, pki: Any, file_store: _FileBackend) -> None:
    TokenInfo(domain=server.netloc, api_key=jwt(time.time() - 60)).save()
    make_client(server, pki).get("/")
    assert server.last.header("Authorization") is None
    fresh = jwt(time.time() + 3600)
    TokenInfo(domain=server.netloc, api_key=fresh).save()
    make_client(server, pki).get("/")
    assert server.last.header("Authorization") == f"Bearer {fresh}"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def _auth_required(status: int) -> Any:
    return lambda req: (status, {}, {"error": {"code": "auth_required", "message": "no"}})


def test_a_refusal_after_an_expired_key_names_the_expiry(server: Any, pki: Any) -> None:
    """The stored key has expired: it is not sent, and the server's refusal says the key
    expired and when (still the ``AuthenticationMissingError`` 0.15 raised there)."""
    import datetime as dt

    expiry = int(time.time()) - 86400
    TokenInfo(domain=server.netloc, api_key=jwt(expiry)).save()
    server.routes["/private"] = _auth_required(401)
    response = make_client(server, pki).get("/private")
    assert server.last.header("Authorization") is None
    with pytest.raises(AuthenticationMissingError) as info:
        response.raise_for_status()
    when = dt.datetime.fromtimestamp(expiry, dt.timezone.utc)
    assert f"expired on {when:%Y-%m-%d %H:%M} UTC" in str(info.value)
    assert server.netloc in str(info.value) and "anaconda login" in str(info.value)
    assert info.value.expires_at == when  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_required_without_a_key(server: Any, pki: Any, status: int) -> None:
    server.routes["/private"] = _auth_required(status)
    response = make_client(server, pki).get("/private")
    with pytest.raises(AuthenticationMissingError) as info:
        response.raise_for_status()
    error = info.value
    assert isinstance(error, requests.HTTPError)
    assert error.response is response
    assert error.request is response.request
    assert str(status) in str(error)
    assert "log in" in str(error)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_required_with_a_key(server: Any, pki: Any, status: int) -> None:
    server.routes["/private"] = _auth_required(status)
    response = make_client(server, pki, api_key=SECRET).get("/private")
    with pytest.raises(InvalidAuthentication) as info:
        response.raise_for_status()
    assert isinstance(info.value, requests.HTTPError)
    assert info.value.response is response
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


@pytest.mark.parametrize(
    "route",
    [
        lambda req: (403, {}, {"error": {"code": "forbidden"}}),
        lambda req: (401, {}, "not json"),
        lambda req: (401, {}, ["auth_required"]),
        lambda req: (500, {}, {"error": {"code": "auth_required"}}),
    ],
)
def test_other_errors_are_plain_http_errors(server: Any, pki: Any, route: Any) -> None:
    server.routes["/err"] = route
    response = make_client(server, pki, api_key=SECRET).get("/err")
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    assert type(info.value) is requests.HTTPError


def test_success_does_not_raise(server: Any, pki: Any) -> None:
    make_client(server, pki).get("/").raise_for_status()


def test_auth_required_survives_request_hooks(server: Any, pki: Any) -> None:
    server.routes["/private"] = _auth_required(401)
    seen: list[int] = []
    response = make_client(server, pki).get(
        "/private", hooks={"response": lambda r, **kw: seen.append(r.status_code)}
    )
    assert seen == [401]
    with pytest.raises(AuthenticationMissingError):
        response.raise_for_status()


# ---------------------------------------------------------------------------------------------
# Min-Api-Version
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "minimum", "warns"),
    [
        ("1.0", "1.1", True),
        ("1.2", "1.10", True),
        ("2024.01.15", "2024.02.01", True),
        ("2024-01-15", "2024-1-16", True),
        ("1.1", "1.1", False),
        ("1.1.0", "1.1", False),
        ("2.0", "1.9.9", False),
        ("1.0", "not-a-version", False),
    ],
)
def test_min_api_version_warning(
    server: Any, pki: Any, ours: str, minimum: str, warns: bool
) -> None:
    server.routes["/v"] = lambda req: (200, {"Min-Api-Version": minimum}, {})
    client = make_client(server, pki, api_version=ours)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.get("/v")
    api_warnings = [w for w in caught if issubclass(w.category, ApiVersionWarning)]
    assert len(api_warnings) == (1 if warns else 0)  # once, though request() and send() look
    if warns:
        assert str(api_warnings[0].message) == (  # 0.15's text
            f"Client API version is {ours}, minimum supported API version is {minimum}. "
            "You may need to update your client."
        )
        assert api_warnings[0].filename == __file__  # the caller's line


def test_api_version_warning_is_a_deprecation_warning_shown_by_default(tmp_path: Path) -> None:
    """0.15 warned with a DeprecationWarning (code catching that still does); ours is also a
    UserWarning and, unlike other DeprecationWarnings, shown without any -W option."""
    assert issubclass(ApiVersionWarning, DeprecationWarning)
    assert issubclass(ApiVersionWarning, UserWarning)
    # Issued from a module that is not __main__: DeprecationWarnings are hidden there by default.
    (tmp_path / "caller.py").write_text(
        "from anaconda_auth.client import BaseClient\n"
        "def call():\n"
        "    client = BaseClient(domain='example.invalid', api_version='1.0')\n"
        "    client._check_api_version('2.0', stacklevel=1)\n"
    )
    code = "import caller; caller.call()"
    shown = run_python(code, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    assert "ApiVersionWarning: Client API version is 1.0" in shown.stderr
    # Warning options given when Python started decide: here, DeprecationWarnings are hidden.
    hidden = run_python(
        code,
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(tmp_path),
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        },
    )
    assert hidden.returncode == 0, hidden.stderr
    assert "ApiVersionWarning" not in hidden.stderr


def test_no_api_version_no_warning(server: Any, pki: Any) -> None:
    server.routes["/v"] = lambda req: (200, {"Min-Api-Version": "99"}, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_client(server, pki).get("/v")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1.2.3", (1, 2, 3)),
        ("v2", (2,)),
        ("1.2.0", (1, 2)),
        ("01.002", (1, 2)),
        ("3rc1", (3,)),
        ("1.2.3-beta", (1, 2, 3)),
        ("2024-01-15", (2024, 1, 15)),
        ("0", (0,)),
        ("", None),
        ("beta", None),
    ],
)
def test_version_key(text: str, key: tuple[int, ...] | None) -> None:
    assert _version_key(text) == key


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------


def test_ssl_verify_ca_path(server: Any, pki: Any) -> None:
    assert make_client(server, pki).get("/").ok


def test_ssl_verify_wrong_ca_fails(server: Any, other_pki: Any) -> None:
    client = make_client(server, other_pki)
    with pytest.raises(requests.exceptions.SSLError):
        client.get("/")


def test_ssl_verify_default_fails_for_an_unknown_ca(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(requests.exceptions.SSLError):
        BaseClient(domain=server.netloc).get("/")


def test_ssl_verify_false(server: Any, other_pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # a CA bundle in the environment must not turn verification back on
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_pki.ca_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning
        assert BaseClient(domain=server.netloc, ssl_verify=False).get("/").ok


def test_ssl_verify_false_from_the_environment(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert BaseClient(domain=server.netloc).get("/").ok


def test_explicit_ca_path_beats_requests_ca_bundle(
    server: Any, pki: Any, other_pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_pki.ca_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_pki.ca_path))
    assert make_client(server, pki).get("/").ok
    # and the other way round: the explicit wrong CA is not rescued by the environment
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    with pytest.raises(requests.exceptions.SSLError):
        make_client(server, other_pki).get("/")


def test_default_verify_honours_requests_ca_bundle(
    server: Any, pki: Any, other_pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    assert BaseClient(domain=server.netloc).get("/").ok
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_pki.ca_path))
    with pytest.raises(requests.exceptions.SSLError):
        BaseClient(domain=server.netloc).get("/")
    # trust_env=False: the environment is ignored altogether (certifi's bundle is used)
    client = BaseClient(domain=server.netloc)
    client.trust_env = False
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    with pytest.raises(requests.exceptions.SSLError):
        client.get("/")


class _VerifyRecorder(BaseClient):
    """Records the ``verify`` each request hands to ``merge_environment_settings``."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        self.seen_verify = verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


@pytest.mark.parametrize("setting", ["ca-path", False])
def test_request_passes_the_resolved_verify(
    server: Any, pki: Any, setting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As 0.15: ``request()`` passes ``verify=<resolved ssl_verify>`` explicitly."""
    verify = str(pki.ca_path) if setting == "ca-path" else setting
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    client = _VerifyRecorder(domain=server.netloc, ssl_verify=verify)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning
        assert client.get("/").ok
    assert client.seen_verify == verify == client.verify


def test_request_passes_verify_true_and_the_ca_bundle_variable_still_applies(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    client = _VerifyRecorder(domain=server.netloc, ssl_verify=True)
    assert client.get("/").ok
    assert client.seen_verify is True


def test_site_that_is_not_a_name_or_a_site_is_an_unknown_site_name() -> None:
    """As 0.15: ``BaseClient(site=1)`` raises ``UnknownSiteName``."""
    with pytest.raises(UnknownSiteName, match="site=1"):
        BaseClient(site=1)  # type: ignore[arg-type]


def test_per_request_verify_wins(server: Any, pki: Any, other_pki: Any) -> None:
    client = make_client(server, other_pki)
    assert client.get("/", verify=str(pki.ca_path)).ok


def test_ssl_verify_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ssl_verify"):
        BaseClient(domain="example.com", ssl_verify=str(tmp_path / "missing.pem"))


def test_truststore_uses_the_system_store(
    server: Any, pki: Any, other_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Linux truststore reads OpenSSL's default locations, which honour SSL_CERT_FILE.
    empty = tmp_path / "empty-cert-dir"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_path))
    # requests' CA-bundle variables must not replace the system store
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_pki.ca_path))
    client = BaseClient(domain=server.netloc, ssl_verify="truststore")
    assert isinstance(client.get_adapter(server.url), SSLContextAdapter)
    assert client.get("/").ok

    monkeypatch.setenv("SSL_CERT_FILE", str(other_pki.ca_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_path))
    with pytest.raises(requests.exceptions.SSLError):
        BaseClient(domain=server.netloc, ssl_verify="truststore").get("/")


def test_0_15_http_adapter_with_and_without_a_context(server: Any, pki: Any) -> None:
    """0.15's ``adapters.HTTPAdapter(ssl_context=...)`` (also ``client.HTTPAdapter``)."""
    import ssl

    from anaconda_auth import adapters

    assert adapters.HTTPAdapter is anaconda_auth.client.HTTPAdapter is SSLContextAdapter
    trusting = ssl.create_default_context(cafile=str(pki.ca_path))
    with requests.Session() as session:
        session.mount("https://", adapters.HTTPAdapter(ssl_context=trusting))
        assert session.get(server.url).ok  # verify=True: the context's trust store alone
        assert adapters.HTTPAdapter(ssl_context=trusting)._ssl_context is trusting
    with requests.Session() as session:
        session.mount("https://", adapters.HTTPAdapter())  # no context: requests' own
        with pytest.raises(requests.exceptions.SSLError):
            session.get(server.url)  # certifi does not know the test CA
        assert session.get(server.url, verify=str(pki.ca_path)).ok


def test_truststore_from_the_environment(
    server: Any, pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_path))
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "truststore")
    client = BaseClient(domain=server.netloc)
    assert isinstance(client.get_adapter(server.url), SSLContextAdapter)
    assert client.get("/").ok


def test_client_certificate(pki: Any) -> None:
    with EchoServer(pki, require_client_cert=True) as mtls:
        without = make_client(mtls, pki)
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            without.get("/")
        client = make_client(
            mtls,
            pki,
            client_cert=str(pki.client_cert_path),
            client_cert_key=str(pki.client_key_path),
        )
        assert client.get("/").ok
        assert (
            mtls.last.client_cert_subject
            == "organizationName=anaconda-auth testing,commonName=test-client"
        )


def test_client_certificate_single_file(pki: Any, tmp_path: Path) -> None:
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.client_cert_path.read_bytes() + pki.client_key_path.read_bytes())
    with EchoServer(pki, require_client_cert=True) as mtls:
        assert make_client(mtls, pki, client_cert=str(combined)).get("/").ok
        assert (
            mtls.last.client_cert_subject
            == "organizationName=anaconda-auth testing,commonName=test-client"
        )


def test_client_certificate_from_the_environment(pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_CERT", str(pki.client_cert_path))
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_CERT_KEY", str(pki.client_key_path))
    with EchoServer(pki, require_client_cert=True) as mtls:
        assert make_client(mtls, pki).get("/").ok


def test_client_cert_key_without_cert_is_a_config_error(pki: Any) -> None:
    with pytest.raises(ConfigError, match="client_cert"):
        BaseClient(domain="example.com", client_cert_key=str(pki.client_key_path))


# ---------------------------------------------------------------------------------------------
# Proxies
# ---------------------------------------------------------------------------------------------


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_proxy_servers_are_used(server: Any, pki: Any) -> None:
    with ConnectProxy() as proxy:
        client = make_client(server, pki, proxy_servers={"https": proxy.url}, api_key=SECRET)
        assert client.proxies == {"https": proxy.url}
        assert client.get("/via-proxy").ok
    assert [(m, t) for m, t, _ in proxy.requests] == [("CONNECT", server.netloc)]
    # the tunnel is end-to-end TLS: the key reaches the server, never the proxy in clear
    assert server.last.header("Authorization") == f"Bearer {SECRET}"
    assert all(SECRET not in line for _, _, headers in proxy.requests for line in headers)


def test_configured_proxy_beats_the_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with ConnectProxy() as proxy:
        assert make_client(server, pki, proxy_servers={"https": proxy.url}).get("/").ok
    assert len(proxy.requests) == 1


def test_environment_proxy_when_none_configured(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert make_client(server, pki).get("/").ok
    assert len(proxy.requests) == 1


def test_proxy_with_truststore(
    server: Any, pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_path))
    with ConnectProxy() as proxy:
        client = BaseClient(
            domain=server.netloc, ssl_verify="truststore", proxy_servers={"https": proxy.url}
        )
        assert client.get("/").ok
    assert len(proxy.requests) == 1


# ---------------------------------------------------------------------------------------------
# Sites and configuration
# ---------------------------------------------------------------------------------------------


def test_site_object(server: Any, pki: Any) -> None:
    site = AnacondaAuthSite(domain=server.netloc, ssl_verify=str(pki.ca_path))
    client = BaseClient(site=site, api_key=SECRET)
    assert client.config.domain == server.netloc
    assert site.api_key is None  # the caller's object is not modified
    client.get("/s")
    assert server.last.header("Authorization") == f"Bearer {SECRET}"


def test_site_object_overrides_are_validated(server: Any, pki: Any) -> None:
    site = AnacondaAuthSite(domain="example.com", ssl_verify=str(pki.ca_path))
    client = BaseClient(site=site, domain=f"https://{server.netloc}/ignored/path")
    assert client.config.domain == server.netloc
    assert client.get("/").ok


def test_site_name_from_config_toml(
    server: Any, pki: Any, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(
        isolated_home,
        f'[sites.local]\ndomain = "{server.netloc}"\nssl_verify = "{pki.ca_path}"\n'
        '[sites.other]\ndomain = "other.example"\n',
    )
    client = BaseClient(site="local")
    assert client.config.domain == server.netloc
    assert client.get("/").ok


def test_config_from_the_environment(
    server: Any, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", server.netloc)
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(pki.ca_path))
    client = BaseClient()
    client.get("/env")
    assert server.last.path == "/env"


# ---------------------------------------------------------------------------------------------
# Account
# ---------------------------------------------------------------------------------------------


def test_account_name_email(server: Any, pki: Any) -> None:
    user = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    server.routes["/api/account"] = lambda req: (200, {}, {"user": user})
    client = make_client(server, pki, api_key=SECRET)
    assert client.account["user"]["email"] == "ada@example.com"
    assert client.account["domain"] == server.netloc
    assert client.name == "Ada Lovelace"
    assert client.email == "ada@example.com"
    account_requests = [r for r in server.requests if r.path == "/api/account"]
    assert len(account_requests) == 1  # cached
    assert account_requests[0].header("Authorization") == f"Bearer {SECRET}"


def test_name_falls_back_to_email(server: Any, pki: Any) -> None:
    server.routes["/api/account"] = lambda req: (200, {}, {"user": {"email": "x@example.com"}})
    assert make_client(server, pki).name == "x@example.com"


def test_account_when_not_logged_in(server: Any, pki: Any) -> None:
    server.routes["/api/account"] = _auth_required(401)
    client = make_client(server, pki)
    assert client.account["user"]["email"] is None
    with pytest.raises(ValueError, match="email"):
        _ = client.email


def test_account_with_a_bad_key(server: Any, pki: Any) -> None:
    server.routes["/api/account"] = _auth_required(401)
    with pytest.raises(InvalidAuthentication):
        _ = make_client(server, pki, api_key=SECRET).account


# ---------------------------------------------------------------------------------------------
# Secrets and import cost
# ---------------------------------------------------------------------------------------------


def test_secrets_not_in_reprs(server: Any, pki: Any) -> None:
    client = make_client(server, pki, api_key=SECRET)
    for text in (repr(client), repr(client.auth), repr(client.config), str(client.config)):
        assert SECRET not in text


def test_import_is_cheap() -> None:
    heavy = ["typer", "rich", "panel", "cryptography", "keyring", "pydantic"]
    heavy += ["pydantic_settings", "pydantic_core", "pluggy", "truststore"]
    ours = ["anaconda_auth.manager", "anaconda_auth.config", "anaconda_auth.token"]
    assert modules_loaded_by(["anaconda_auth.client"], heavy + ours) == []


def test_site_with_its_own_token_storage_sends_that_sites_key(
    isolated_home: Path, server: Any, pki: Any
) -> None:
    """A [sites.<name>] table with its own keyring_path: the client reads the token there."""
    key = jwt()
    site_keyring = isolated_home / "work-keyring"
    write_config_toml(
        isolated_home,
        f"""
        default_site = "main"
        [sites.main]
        domain = "main.example"
        [sites.work]
        domain = "{server.netloc}"
        ssl_verify = "{pki.ca_path}"
        keyring_path = "{site_keyring}"
        """,
    )
    from anaconda_auth.actions import load_site_config

    TokenInfo(domain=server.netloc, api_key=key).save(config=load_site_config("work"))
    assert site_keyring.exists()

    BaseClient(site="work").get("/")
    assert server.last.header("Authorization") == f"Bearer {key}"
