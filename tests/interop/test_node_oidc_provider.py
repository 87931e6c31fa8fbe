"""Interoperability: our login flows against node-oidc-provider, an independent OpenID provider.

The provider (``provider.mjs``: oidc-provider, an OpenID Certified implementation, pinned in
``package-lock.json``) has its own paths (``/auth``, ``/token``, ``/device/auth``, ``/me``),
its own login/consent and device pages, and its own rules (PKCE S256 required, RFC 9207
``iss`` in the authorization response, no ``interval`` in the device authorization response).
The browser is ``browser.py``: it reads the provider's HTML and clicks through it like a person.
Nothing here is a double of our own: if these pass, the client speaks the protocols, not our
test provider's dialect.

``node_modules`` is installed with ``npm ci`` once (skipped when up to date); the module is
skipped only when ``node`` or ``npm`` is missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from anaconda_auth import __version__
from anaconda_auth.actions import current_token, is_logged_in, load_site_config, login
from anaconda_auth.client import BaseClient
from anaconda_auth.config import DEFAULT_CLIENT_ID
from anaconda_auth.exceptions import (
    AuthenticationError,
    DeviceFlowDenied,
    DeviceFlowError,
    TokenNotFoundError,
)
from anaconda_auth.flows import browser as browser_flow
from anaconda_auth.flows import discovery
from anaconda_auth.flows import tokens as login_tokens
from anaconda_auth.flows.redirect_server import AuthorizationFailed, IssuerMismatch
from anaconda_auth.http import session as _http
from anaconda_auth.token import jwt_claims

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
BROWSER = HERE / "browser.py"
LOCK = HERE / "package-lock.json"
STAMP_NAME = ".interop-lock.sha256"
OTHER_CLIENT_ID = "interop-second-client"
USER = "alice@example.com"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


# -- the provider -----------------------------------------------------------------------------


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``npm ci`` into tests/interop/node_modules, unless the installed tree matches the lock."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the interoperability tests need Node.js (node and npm on PATH)")
    modules = HERE / "node_modules"
    stamp = modules / STAMP_NAME
    digest = _lock_digest()
    installed = (modules / "oidc-provider" / "package.json").is_file()
    if installed and stamp.is_file() and stamp.read_text().strip() == digest:
        return modules
    result = subprocess.run(
        [npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {HERE} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    stamp.write_text(digest + "\n")
    return modules


@dataclass
class NodeProvider:
    """The running provider.mjs, and its test-only routes."""

    issuer: str
    port: int
    ca_path: Path
    process: subprocess.Popen[str]

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.ca_path)
        return s

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        with self.session() as s:
            r = s.request(method, f"{self.issuer}/__interop__/{path}", json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def reset(self) -> None:
        self._control("POST", "reset")

    def device_policy(self, interval: int | None = None, slow_down_polls: int = 0) -> None:
        self._control(
            "POST", "device-policy", {"interval": interval, "slow_down_polls": slow_down_polls}
        )

    def recorded(self, route: str | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._control("GET", "requests")
        return [e for e in entries if route is None or e["route"] == route]

    def polls(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.recorded("token")
            if (e.get("form") or {}).get("grant_type") == DEVICE_GRANT
        ]


@pytest.fixture(scope="session")
def node_provider(
    node_modules: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProvider]:
    from anaconda_auth.plugins.testing.ca import create_tls_files

    directory = tmp_path_factory.mktemp("node-oidc-provider")
    tls = create_tls_files(directory / "tls")
    stderr = open(directory / "provider.stderr", "w+", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [
            shutil.which("node") or "node",
            str(HERE / "provider.mjs"),
            "--port",
            "0",
            "--cert",
            str(tls.cert_path),
            "--key",
            str(tls.key_path),
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--client-id",
            OTHER_CLIENT_ID,
            "--refresh-without-consent",
            OTHER_CLIENT_ID,
        ],
        cwd=HERE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        try:
            ready = json.loads(lines.get(timeout=30))
        except (queue.Empty, ValueError):
            stderr.seek(0)
            pytest.fail(f"provider.mjs did not start:\n{stderr.read()[-3000:]}")
        yield NodeProvider(
            issuer=ready["issuer"], port=ready["port"], ca_path=tls.ca_path, process=process
        )
    finally:
        assert process.stdin is not None
        process.stdin.close()  # provider.mjs exits when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout.close()
        stderr.close()


@pytest.fixture
def provider(node_provider: NodeProvider) -> Iterator[NodeProvider]:
    assert node_provider.process.poll() is None, "provider.mjs has exited"
    node_provider.reset()
    discovery.clear_cache()
    yield node_provider
    discovery.clear_cache()


@pytest.fixture
def home(provider: NodeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """anaconda-auth configured for the node provider: its domain, its CA, a free port."""
    home = Path(os.environ["HOME"])
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", provider.domain)
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(provider.ca_path))
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", "http://127.0.0.1:0/auth/oidc")
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", str(home / ".anaconda" / "config.toml"))
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(home / ".anaconda" / "keyring"))
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "anaconda-keyring")
    monkeypatch.setenv("ANACONDA_AUTH_LOGIN_TIMEOUT", "30")
    for name in ("BROWSER", "SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    return home


# -- the browser and the UI -------------------------------------------------------------------


class BrowserLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def hops(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def callbacks(self) -> list[dict[str, Any]]:
        return [h for h in self.hops() if h["url"].startswith("http://127.0.0.1")]


def browser_args(provider: NodeProvider, log: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(BROWSER),
        "--ca",
        str(provider.ca_path),
        "--login",
        USER,
        "--log",
        str(log),
        *extra,
    ]


@pytest.fixture
def use_browser(
    home: Path, provider: NodeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., BrowserLog]:
    """Point ``$BROWSER`` at browser.py with the given extra options; its hop log."""

    def use(*extra: str) -> BrowserLog:
        log = tmp_path / "browser.jsonl"
        command = " ".join(f'"{arg}"' for arg in browser_args(provider, log, *extra))
        monkeypatch.setenv("BROWSER", command + " %s")
        return BrowserLog(log)

    return use


class RecordingUI:
    """A LoginUI; for the device flow, a person approves on another device (browser.py)."""

    def __init__(
        self,
        provider: NodeProvider | None = None,
        log: Path | None = None,
        *,
        use_complete_uri: bool = True,
        deny: bool = False,
        before_approving: Callable[[], None] | None = None,
    ) -> None:
        self.provider = provider
        self.log = log
        self.use_complete_uri = use_complete_uri
        self.deny = deny
        self.before_approving = before_approving
        self.authorize_urls: list[str] = []
        self.device_codes: list[tuple[str, str, str | None]] = []
        self.approvals: list[int] = []
        self._threads: list[threading.Thread] = []

    def show_authorize_url(self, url: str) -> None:
        self.authorize_urls.append(url)

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        self.device_codes.append((verification_uri, user_code, complete_uri))
        if self.provider is None or self.log is None:
            return
        if self.use_complete_uri:
            assert complete_uri, "the provider sent verification_uri_complete"
            args = browser_args(self.provider, self.log, complete_uri)
        else:
            args = browser_args(self.provider, self.log, "--user-code", user_code, verification_uri)
        if self.deny:
            args.insert(-1, "--deny")

        def approve() -> None:
            if self.before_approving is not None:
                self.before_approving()
            done = subprocess.run(args, stdin=subprocess.DEVNULL, timeout=60, check=False)
            self.approvals.append(done.returncode)

        thread = threading.Thread(target=approve, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=60)

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        yield


def assert_nothing_stored() -> None:
    with pytest.raises(TokenNotFoundError):
        current_token()
    assert not is_logged_in()


def whoami(provider: NodeProvider) -> dict[str, Any]:
    """GET /api/account with the stored API key, through BaseClient."""
    with BaseClient() as client:
        response = client.get("/api/account")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- discovery --------------------------------------------------------------------------------


def test_discovery_uses_the_providers_own_paths(home: Path, provider: NodeProvider) -> None:
    found = discovery.discover(load_site_config())
    assert found.issuer == provider.issuer
    assert found.authorization_endpoint == f"{provider.issuer}/auth"
    assert found.token_endpoint == f"{provider.issuer}/token"
    assert found.device_authorization_endpoint == f"{provider.issuer}/device/auth"
    assert found.userinfo_endpoint == f"{provider.issuer}/me"
    assert found.authorization_response_iss_parameter_supported is True


# -- browser flow -----------------------------------------------------------------------------


def test_browser_login_end_to_end(
    home: Path, provider: NodeProvider, use_browser: Callable[..., BrowserLog]
) -> None:
    browser = use_browser()
    ui = RecordingUI()
    login(device=False, ui=ui)

    info = current_token()
    assert info.api_key and not info.expired
    assert info.username == USER  # from the userinfo endpoint: oidc-provider's ID token has none
    assert info.domain == provider.domain
    assert whoami(provider)["user"]["email"] == USER

    # The authorize request, as the provider received it.
    (authorize,) = provider.recorded("authorization")
    query = authorize["query"]
    assert query["client_id"] == DEFAULT_CLIENT_ID
    assert query["response_type"] == "code"
    assert query["scope"] == "openid email profile offline_access"
    assert query["code_challenge_method"] == "S256"
    assert urlsplit(query["redirect_uri"]).hostname == "127.0.0.1"
    assert ui.authorize_urls[0].startswith(f"{provider.issuer}/auth?")

    # The code exchange: the provider issued the tokens for the verifier of the challenge
    # above. OpenID Connect Core §11: without prompt=consent a strict provider drops
    # offline_access and issues no refresh token; the login needs none (it mints an API key).
    (exchange,) = provider.recorded("token")
    form = exchange["form"]
    assert exchange["status"] == 200
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == DEFAULT_CLIENT_ID
    assert form["redirect_uri"] == query["redirect_uri"]
    assert s256(form["code_verifier"]) == query["code_challenge"]
    assert {"access_token", "id_token"} <= set(exchange["issued"])
    assert "refresh_token" not in exchange["issued"]
    assert exchange["scope"] == "openid email profile"
    # After the wait for the user, the exchange does not reuse the idle discovery connection
    # (the server may be closing it at that very moment).
    (discovery,) = provider.recorded("discovery")
    assert exchange["connection"] != discovery["connection"]

    # The API key: minted with the access token, which the provider recognised as its own.
    (mint,) = [e for e in provider.recorded("/api/auth/api-keys")]
    assert mint["status"] == 201
    assert mint["authorization"] == "Bearer"
    assert mint["client_id"] == DEFAULT_CLIENT_ID and mint["account"] == USER
    assert mint["json"] == {
        "scopes": ["cloud:read", "cloud:write", "repo:read"],
        "tags": [f"anaconda-auth/v{__version__}"],
    }
    assert mint["user_agent"] == f"anaconda-auth/{__version__}"
    (userinfo,) = provider.recorded("userinfo")  # where the email came from
    assert userinfo["status"] == 200 and userinfo["connection"] == mint["connection"]

    # The provider's callback carried RFC 9207 ``iss``; the browser ended on the success page.
    (callback,) = browser.callbacks()
    assert parse_qs(urlsplit(callback["url"]).query)["iss"] == [provider.issuer]
    assert callback["status"] == 302
    assert callback["location"] == load_site_config().login_success_url
    assert browser.hops()[-1]["status"] == 200


def test_browser_flow_with_another_client_id_returns_the_refresh_token(
    home: Path, provider: NodeProvider, use_browser: Callable[..., BrowserLog]
) -> None:
    """The provider's policy lets this client have offline access without prompt=consent."""
    use_browser()
    config = load_site_config(client_id=OTHER_CLIENT_ID)
    session = _http.make_session(config)
    try:
        found = discovery.discover(config, session)
        tokens = browser_flow.run(config, found, session, RecordingUI(), lambda t: t)
    finally:
        session.close()
    assert tokens.refresh_token and tokens.id_token
    assert tokens.scope is not None and "offline_access" not in tokens.scope.split()
    assert tokens.expires_in is not None and tokens.expires_in > 0
    assert jwt_claims(tokens.id_token)["aud"] == OTHER_CLIENT_ID
    (exchange,) = provider.recorded("token")
    assert exchange["form"]["client_id"] == OTHER_CLIENT_ID


def test_user_cancels_at_the_provider(
    home: Path, provider: NodeProvider, use_browser: Callable[..., BrowserLog]
) -> None:
    browser = use_browser("--deny")
    with pytest.raises(AuthorizationFailed) as caught:
        login(device=False, ui=RecordingUI())
    assert isinstance(caught.value, AuthenticationError)
    assert caught.value.error == "access_denied"
    assert "denied" in str(caught.value) and "Nothing was stored" in str(caught.value)
    assert_nothing_stored()
    assert provider.recorded("token") == []
    assert provider.recorded("/api/auth/api-keys") == []
    (callback,) = browser.callbacks()
    assert callback["location"] == load_site_config().login_error_url


def test_pkce_is_enforced_by_the_provider(
    home: Path,
    provider: NodeProvider,
    use_browser: Callable[..., BrowserLog],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The provider rejects a wrong verifier, so the passing logins prove ours is right."""
    # 1. No code_challenge at all: refused at the authorization endpoint (PKCE required).
    with provider.session() as s:
        r = s.get(
            f"{provider.issuer}/auth?"
            + urlencode(
                {
                    "client_id": DEFAULT_CLIENT_ID,
                    "response_type": "code",
                    "scope": "openid",
                    "state": "x" * 32,
                    "redirect_uri": "http://127.0.0.1:9/auth/oidc",
                }
            ),
            allow_redirects=False,
            timeout=10,
        )
    assert r.status_code in (302, 303)
    error = parse_qs(urlsplit(r.headers["Location"]).query)
    assert error["error"] == ["invalid_request"]
    assert "PKCE" in error["error_description"][0]

    # 2. Our flow with a tampered verifier: the provider refuses the code exchange, the login
    #    fails with the provider's error, and nothing is stored.
    real_new = browser_flow.PKCE.new

    def tampered() -> browser_flow.PKCE:
        good, other = real_new(), real_new()
        return browser_flow.PKCE(verifier=other.verifier, challenge=good.challenge)

    monkeypatch.setattr(browser_flow.PKCE, "new", staticmethod(tampered))
    browser = use_browser()
    with pytest.raises(login_tokens.OAuthError) as caught:
        login(device=False, ui=RecordingUI())
    assert caught.value.error == "invalid_grant"
    assert_nothing_stored()
    (exchange,) = provider.recorded("token")
    assert exchange["status"] == 400 and exchange["error"] == "invalid_grant"
    (callback,) = browser.callbacks()
    assert callback["location"] == load_site_config().login_error_url


@pytest.mark.parametrize(
    ("foreign_iss", "reason"),
    [("https://attacker.example", "'https://attacker.example'"), (None, "no iss")],
    ids=["foreign-iss", "missing-iss"],
)
def test_authorization_response_issuer_is_checked(
    home: Path,
    provider: NodeProvider,
    use_browser: Callable[..., BrowserLog],
    monkeypatch: pytest.MonkeyPatch,
    foreign_iss: str | None,
    reason: str,
) -> None:
    """RFC 9207: a callback whose ``iss`` is not the discovered issuer is a mix-up; the
    provider advertises ``authorization_response_iss_parameter_supported``, so a callback
    without ``iss`` is refused as well. The code is never exchanged."""
    if foreign_iss is not None:
        monkeypatch.setenv("INTEROP_CALLBACK_ISS", foreign_iss)
        browser = use_browser()
    else:
        browser = use_browser("--drop-iss")
    with pytest.raises(IssuerMismatch) as caught:
        login(device=False, ui=RecordingUI())
    message = str(caught.value)
    assert provider.issuer in message and reason in message
    assert "nothing was stored" in message.lower()
    assert_nothing_stored()
    assert provider.recorded("token") == []
    (callback,) = browser.callbacks()
    assert callback["status"] == 302
    assert callback["location"] == load_site_config().login_error_url


# -- device flow ------------------------------------------------------------------------------


def test_device_login_end_to_end(home: Path, provider: NodeProvider, tmp_path: Path) -> None:
    """oidc-provider sends no ``interval``: RFC 8628 §3.2 says poll every 5 s then."""
    ui = RecordingUI(provider, tmp_path / "device.jsonl")
    login(device=True, ui=ui)
    ui.join()
    assert ui.approvals == [0]

    info = current_token()
    assert info.api_key and info.username == USER
    assert whoami(provider)["user"]["email"] == USER

    ((verification_uri, user_code, complete_uri),) = ui.device_codes
    assert verification_uri == f"{provider.issuer}/device"
    assert (
        complete_uri is not None
        and user_code in parse_qs(urlsplit(complete_uri).query)["user_code"]
    )
    (start,) = provider.recorded("device_authorization")
    assert start["form"] == {"client_id": DEFAULT_CLIENT_ID, "scope": login_tokens.SCOPE}
    polls = provider.polls()
    assert polls and polls[-1]["status"] == 200
    assert all(p["poll"]["spacing"] >= 4.75 for p in polls), polls
    assert not [p for p in polls if p["error"] == "slow_down"]
    assert {"access_token", "refresh_token"} <= set(polls[-1]["issued"])
    assert polls[-1]["form"]["client_id"] == DEFAULT_CLIENT_ID
    # Every poll on a fresh connection, never on one left idle for a whole interval.
    connections = [start["connection"], *(p["connection"] for p in polls)]
    assert len(set(connections)) == len(connections)


def test_device_login_keeps_polling_while_pending(
    home: Path, provider: NodeProvider, tmp_path: Path
) -> None:
    """The user types the code on the verification page after a few pending polls."""
    provider.device_policy(interval=1)

    def after_two_pending_polls() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sum(p["error"] == "authorization_pending" for p in provider.polls()) >= 2:
                return
            time.sleep(0.1)

    ui = RecordingUI(
        provider,
        tmp_path / "device.jsonl",
        use_complete_uri=False,
        before_approving=after_two_pending_polls,
    )
    login(device=True, ui=ui)
    ui.join()
    assert ui.approvals == [0]
    assert current_token().api_key

    polls = provider.polls()
    errors = [p["error"] for p in polls]
    assert errors[:2] == ["authorization_pending", "authorization_pending"]
    assert polls[-1]["status"] == 200
    assert "slow_down" not in errors
    assert all(p["poll"]["spacing"] >= 0.75 for p in polls), polls


def test_device_login_slows_down_when_told(
    home: Path, provider: NodeProvider, tmp_path: Path
) -> None:
    """RFC 8628 §3.5: after slow_down the interval grows by 5 s for all later polls."""
    provider.device_policy(interval=1, slow_down_polls=1)

    def after_the_slow_down() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            p["error"] == "slow_down" for p in provider.polls()
        ):
            time.sleep(0.1)

    ui = RecordingUI(provider, tmp_path / "device.jsonl", before_approving=after_the_slow_down)
    login(device=True, ui=ui)
    ui.join()
    assert current_token().api_key

    polls = provider.polls()
    assert polls[0]["error"] == "slow_down" and polls[0]["poll"]["slow_down"] == "injected"
    assert polls[-1]["status"] == 200
    # The provider would have answered an early poll with slow_down ("early"): none came.
    assert [p["poll"].get("slow_down") for p in polls[1:]] == [None] * (len(polls) - 1)
    assert all(p["poll"]["spacing"] >= 5.75 for p in polls[1:]), polls
    # 1 s + 5 s = 6 s is exactly when Node.js closes an idle keep-alive connection (its 5 s
    # keepAliveTimeout plus 1 s): a poll on the old connection would race the close.
    connections = [p["connection"] for p in polls]
    assert len(set(connections)) == len(connections)


def test_device_login_denied_by_the_user(
    home: Path, provider: NodeProvider, tmp_path: Path
) -> None:
    provider.device_policy(interval=1)
    ui = RecordingUI(provider, tmp_path / "device.jsonl", deny=True)
    with pytest.raises(DeviceFlowDenied) as caught:
        login(device=True, ui=ui)
    ui.join()
    assert isinstance(caught.value, AuthenticationError)
    assert "denied" in str(caught.value) and "nothing was stored" in str(caught.value)
    assert_nothing_stored()
    assert provider.polls()[-1]["error"] == "access_denied"
    assert provider.recorded("/api/auth/api-keys") == []


def test_device_login_with_an_unregistered_client_id(
    home: Path, provider: NodeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's RFC 6749 §5.2 error reaches the user, not a traceback or a timeout."""
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_ID", "not-registered-here")
    with pytest.raises(DeviceFlowError) as caught:
        login(device=True, ui=RecordingUI())
    assert "invalid_client" in str(caught.value)
    assert f"{provider.issuer}/device/auth" in str(caught.value)
    assert_nothing_stored()
    (start,) = provider.recorded("device_authorization")
    assert start["form"]["client_id"] == "not-registered-here"
    assert provider.polls() == []


# -- RFC 9207 in the redirect server, without a provider ----------------------------------------


ISSUER = "https://idp.example"


@pytest.mark.parametrize(
    ("query", "require", "accepted"),
    [
        ({"iss": ISSUER}, True, True),
        ({"iss": ISSUER}, False, True),
        ({}, False, True),  # a provider that does not implement RFC 9207
        ({}, True, False),  # ... but this one promised to
        ({"iss": "https://idp.example/"}, False, False),  # simple string comparison
        ({"iss": [ISSUER, ISSUER]}, False, False),
        ({"iss": "https://other.example", "error": "access_denied"}, False, False),
    ],
    ids=["match", "match-unadvertised", "absent", "absent-promised", "slash", "twice", "error"],
)
def test_redirect_server_checks_iss(query: dict[str, Any], require: bool, accepted: bool) -> None:
    from anaconda_auth.flows.redirect_server import RedirectServer

    state = "s" * 32
    with RedirectServer(
        "http://127.0.0.1:0/auth/oidc",
        state=state,
        success_url="https://example.invalid/ok",
        error_url="https://example.invalid/error",
        issuer=ISSUER,
        require_issuer=require,
    ) as server:
        params = urlencode({"state": state, "code": "the-code", **query}, doseq=True)
        answers: list[requests.Response] = []

        def visit() -> None:
            with requests.Session() as s:
                s.trust_env = False
                answers.append(
                    s.get(f"{server.redirect_uri}?{params}", allow_redirects=False, timeout=10)
                )

        thread = threading.Thread(target=visit)
        thread.start()
        try:
            if accepted:
                assert server.wait_for_code(10) == "the-code"
                server.finish(ok=True)
            else:
                with pytest.raises(IssuerMismatch) as caught:
                    server.wait_for_code(10)
                assert ISSUER in str(caught.value)
                assert "the-code" not in str(caught.value)
        finally:
            server.finish(ok=accepted)
            thread.join(timeout=10)
    (answer,) = answers
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/ok" if accepted else "/error")


def test_redirect_server_without_an_issuer_ignores_iss() -> None:
    """No issuer in the discovery document: nothing to compare with (the old behaviour)."""
    from anaconda_auth.flows.redirect_server import RedirectServer

    with RedirectServer(
        "http://127.0.0.1:0/auth/oidc",
        state="s" * 32,
        success_url="https://example.invalid/ok",
        error_url="https://example.invalid/error",
        issuer=None,
        require_issuer=True,
    ) as server:
        url = f"{server.redirect_uri}?" + urlencode(
            {"state": "s" * 32, "code": "c", "iss": "https://whatever.example"}
        )

        def visit() -> None:
            with requests.Session() as s:
                s.trust_env = False
                s.get(url, allow_redirects=False, timeout=10)

        thread = threading.Thread(target=visit, daemon=True)
        thread.start()
        assert server.wait_for_code(10) == "c"
        server.finish(ok=True)
        thread.join(timeout=10)
