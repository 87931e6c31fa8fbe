"""Panel apps behind Anaconda sign-in, end to end: ``panel serve`` + the local identity provider
+ a real headless Chromium driven by Selenium.

Each test starts ``panel serve tests/e2e/panel_app.py --oauth-provider anaconda_auth ...`` in a
subprocess on a free port, pointed at the provider (``anaconda_idp``, HTTPS with a throwaway
CA) through ``ANACONDA_AUTH_DOMAIN`` / ``ANACONDA_AUTH_SSL_VERIFY=<CA file>``, as the
confidential test client (client id + secret).

TLS trust: the *browser* runs with ``--ignore-certificate-errors`` (importing the throwaway CA
into an NSS database would need certutil). That flag affects the browser only: every
server-side call (Panel to the provider: discovery, code exchange, userinfo, refresh) is
verified against the CA given by ``ANACONDA_AUTH_SSL_VERIFY``, with ``SSL_CERT_FILE`` and
friends removed from the server's environment, and ``test_server_side_tls_uses_ssl_verify``
shows that without that CA the server refuses the provider.

The browser is the system's Chromium with the system chromedriver; nothing is downloaded.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

pytest.importorskip("panel")
pytest.importorskip("authlib")

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.idp import IdentityProvider
    from selenium.webdriver.remote.webdriver import WebDriver

APP = Path(__file__).with_name("panel_app.py")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
EMAIL = "alice@example.com"
PASSWORD = "password"
CLIENT_ID = "anaconda-auth-test-confidential"
CLIENT_SECRET = "test-client-secret"
WAIT = 30.0

# Text of the page including Panel's shadow DOMs (Panel renders its components in shadow
# roots, which Selenium's element queries do not enter).
DEEP_TEXT_JS = """
const parts = [];
const walk = (node) => {
  if (node.shadowRoot) walk(node.shadowRoot);
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) parts.push(child.textContent);
    else if (child.nodeType === Node.ELEMENT_NODE && !['SCRIPT', 'STYLE'].includes(child.tagName))
      walk(child);
  }
};
walk(document.body || document.documentElement);
return parts.join(' ').replace(/\\s+/g, ' ');
"""

DEEP_LINKS_JS = """
const links = [];
const walk = (node) => {
  if (node.shadowRoot) walk(node.shadowRoot);
  for (const child of node.children || []) {
    if (child.tagName === 'A') links.push([child.textContent.trim(), child.href]);
    walk(child);
  }
};
walk(document.documentElement);
return links;
"""


def _have_browser() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


browser_required = pytest.mark.skipif(
    not _have_browser(), reason="needs /usr/bin/chromium and /usr/bin/chromedriver"
)


# ---------------------------------------------------------------------------------------------
# panel serve


@dataclass
class PanelServer:
    """A running ``panel serve``; ``url`` is its root, ``app_url`` the example app."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    app_url: str = ""
    secrets_used: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _server_env(
    idp: IdentityProvider, ssl_verify: str | None, domain: str | None = None
) -> dict[str, str]:
    """The test's environment (the isolation fixture removed every inherited ``ANACONDA_*``;
    what is left was set by the test) pointed at the provider."""
    env = {
        k: v
        for k, v in os.environ.items()
        # The provider's CA must come from anaconda-auth's ssl_verify, not the environment.
        if k not in {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
        and not k.startswith(("PANEL_", "BOKEH_"))
    }
    env["ANACONDA_AUTH_DOMAIN"] = domain or idp.domain
    env.pop("ANACONDA_AUTH_SSL_VERIFY", None)
    if ssl_verify is not None:
        env["ANACONDA_AUTH_SSL_VERIFY"] = ssl_verify
    env["ANACONDA_CLI_DISABLE_TELEMETRY"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def serve_panel(
    anaconda_idp: IdentityProvider, tmp_path: Path
) -> Iterator[Callable[..., PanelServer]]:
    """Start ``panel serve`` of the example app with the given extra arguments."""
    servers: list[PanelServer] = []

    def start(
        *extra: str,
        client_secret: str = CLIENT_SECRET,
        ssl_verify: str | None = "ca",
        via_env: bool = False,
        domain: str | None = None,
        app: Path = APP,
    ) -> PanelServer:
        env = _server_env(
            anaconda_idp,
            str(anaconda_idp.ca_path) if ssl_verify == "ca" else ssl_verify,
            domain,
        )
        cookie_secret = secrets.token_urlsafe(32)
        encryption_key = _fernet_key()
        args = [
            sys.executable, "-m", "panel", "serve", str(app),
            "--address", "127.0.0.1", "--port", "0",
            "--allow-websocket-origin", "127.0.0.1",
            "--oauth-provider", "anaconda_auth",
        ]  # fmt: skip
        if via_env:  # the PANEL_OAUTH_* variables instead of options
            env.update(
                PANEL_OAUTH_KEY=CLIENT_ID,
                PANEL_OAUTH_SECRET=client_secret,
                PANEL_COOKIE_SECRET=cookie_secret,
                PANEL_OAUTH_ENCRYPTION=encryption_key,
            )
        else:
            args += [  # "--opt=value": a secret may start with "-"
                f"--oauth-key={CLIENT_ID}",
                f"--oauth-secret={client_secret}",
                f"--cookie-secret={cookie_secret}",
                f"--oauth-encryption-key={encryption_key}",
            ]  # fmt: skip
        args += list(extra)
        log_path = tmp_path / f"panel-{len(servers)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                args, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
            )
        server = PanelServer(process, log_path, secrets_used=[client_secret, cookie_secret])
        servers.append(server)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            match = re.search(
                r"Bokeh app running at: (http://127\.0\.0\.1:\d+)/(\S+)", server.log()
            )
            if match:
                server.url, server.app_url = match[1], f"{match[1]}/{match[2]}"
                return server
            if process.poll() is not None:
                pytest.fail(f"panel serve exited with {process.returncode}:\n{server.log()}")
            time.sleep(0.1)
        pytest.fail(f"panel serve did not start:\n{server.log()}")

    yield start
    for server in servers:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# the browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile; trusts any certificate (browser side only)."""
    if not _have_browser():
        pytest.skip("needs /usr/bin/chromium and /usr/bin/chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path / "chromium-profile"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
        f"--user-data-dir={profile}",
        # Browser only: the throwaway CA of the provider is not in the browser's store.
        "--ignore-certificate-errors",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], Any], what: str, timeout: float = WAIT
) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        pytest.fail(
            f"timed out waiting for {what}; at {driver.current_url!r}, "
            f"title {driver.title!r}, text: {page_text(driver)[:1000]!r}"
        )


def page_text(driver: WebDriver) -> str:
    text: str = driver.execute_script(DEEP_TEXT_JS)
    return text


def page_links(driver: WebDriver) -> dict[str, str]:
    return {text: href for text, href in driver.execute_script(DEEP_LINKS_JS)}


def on_login_form(idp: IdentityProvider) -> Callable[[WebDriver], bool]:
    from selenium.webdriver.common.by import By

    def check(driver: WebDriver) -> bool:
        return driver.current_url.startswith(f"{idp.url}/authorize") and bool(
            driver.find_elements(By.ID, "login-form")
        )

    return check


def sign_in(driver: WebDriver, idp: IdentityProvider) -> None:
    from selenium.webdriver.common.by import By

    wait_for(driver, on_login_form(idp), "the provider's login form")
    driver.find_element(By.ID, "username").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "approve").click()


def showing(text: str) -> Callable[[WebDriver], bool]:
    return lambda driver: text in page_text(driver)


def signed_in_as(server: PanelServer, email: str) -> Callable[[WebDriver], bool]:
    def check(driver: WebDriver) -> bool:
        return (
            driver.current_url.startswith(server.app_url)
            and driver.title == f"Signed in as {email}"
            and f"you are signed in as {email}" in page_text(driver)
        )

    return check


def fingerprint_shown(driver: WebDriver) -> str:
    match = re.search(r"access token ([0-9a-f]{12}), valid until", page_text(driver))
    assert match, page_text(driver)
    return match[1]


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def assert_no_secrets_in_log(server: PanelServer, idp: IdentityProvider) -> None:
    """Neither the client secret nor any code or token the provider saw is in Panel's log."""
    log = server.log()
    values = set(server.secrets_used)
    for request in idp.requests:
        for key in ("code", "refresh_token", "client_secret", "code_verifier"):
            values.update(v for v in (request.form.get(key), request.query.get(key)) if v)
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            values.add(auth[7:])
    leaked = [v[:4] + "..." for v in values if len(v) >= 8 and v in log]
    assert not leaked, f"secrets in the panel serve log: {leaked}"


# ---------------------------------------------------------------------------------------------
# tests


@pytest.mark.e2e
@browser_required
def test_login_shows_email_then_logout(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], browser: WebDriver
) -> None:
    server = serve_panel()
    browser.get(server.app_url)
    sign_in(browser, anaconda_idp)
    wait_for(browser, signed_in_as(server, EMAIL), "the app showing the user's email")
    assert "Hello Alice Example" in page_text(browser)

    # Endpoints came from discovery of the configured domain, with the configured CA.
    assert anaconda_idp.requests_to("discovery")
    (authorize,) = [r for r in anaconda_idp.requests_to("authorize") if r.method == "GET"]
    assert authorize.query["client_id"] == CLIENT_ID
    assert authorize.query["scope"] == "openid email profile offline_access"
    assert authorize.query["response_type"] == "code"
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["redirect_uri"].startswith(server.url)
    assert "client_secret" not in authorize.query
    assert "auth-domain" not in authorize.query
    (exchange,) = anaconda_idp.requests_to("token")
    assert exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["client_id"] == CLIENT_ID
    assert exchange.form["client_secret"] == CLIENT_SECRET  # client_secret_post
    assert exchange.form["redirect_uri"] == authorize.query["redirect_uri"]
    assert exchange.form["code_verifier"]  # PKCE, for the confidential client too
    assert fingerprint_shown(browser)

    # Logout: "Sign out of Anaconda" ends the provider session, which sends the browser to
    # Panel's /logout; afterwards the app asks for the password again.
    links = page_links(browser)
    assert links["Log out of this app"] == f"{server.url}/logout"
    end_session = links["Sign out of Anaconda"]
    parts = urlsplit(end_session)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{anaconda_idp.url}/logout"
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [f"{server.url}/logout"],
    }
    browser.get(end_session)
    wait_for(
        browser,
        lambda d: (
            d.current_url.startswith(f"{server.url}/logout")
            and "logged out" in page_text(d).lower()
        ),
        "Panel's logout page",
    )
    browser.get(server.app_url)
    wait_for(browser, on_login_form(anaconda_idp), "the login form again after logout")
    assert_no_secrets_in_log(server, anaconda_idp)


@pytest.mark.e2e
@browser_required
def test_refresh_tokens_keep_the_session_after_expiry(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], browser: WebDriver
) -> None:
    # The login's access token lives 5 s; the refreshed ones an hour. Panel refreshes an
    # open session's token when less than 60 s are left, i.e. as soon as the page connects.
    anaconda_idp.settings.access_token_lifetime = 5
    anaconda_idp.settings.access_token_lifetime_by_grant = {"refresh_token": 3600}
    server = serve_panel("--oauth-refresh-tokens", via_env=True)
    browser.get(server.app_url)
    sign_in(browser, anaconda_idp)
    wait_for(browser, signed_in_as(server, EMAIL), "the app after login")
    first = fingerprint_shown(browser)
    (exchange,) = [
        r
        for r in anaconda_idp.requests_to("token")
        if r.form.get("grant_type") == "authorization_code"
    ]

    def refreshed() -> list[Any]:
        return [
            r
            for r in anaconda_idp.requests_to("token")
            if r.form.get("grant_type") == "refresh_token"
        ]

    deadline = time.monotonic() + WAIT
    while not refreshed() and time.monotonic() < deadline:
        time.sleep(0.1)
    (refresh,) = refreshed()
    assert refresh.form["client_id"] == CLIENT_ID
    assert refresh.form["client_secret"] == CLIENT_SECRET
    assert "code_verifier" not in refresh.form

    # Past the first token's expiry, a reload still shows the user, with the new token.
    time.sleep(max(0.0, 5.5 - (time.time() - exchange.time)))
    browser.refresh()
    wait_for(browser, signed_in_as(server, EMAIL), "the app after the first token expired")
    second = fingerprint_shown(browser)
    assert second != first
    assert len(refreshed()) == 1  # the new token is valid: no further refresh
    assert len([r for r in anaconda_idp.requests_to("authorize") if r.method == "GET"]) == 1
    assert_no_secrets_in_log(server, anaconda_idp)


@pytest.mark.e2e
@browser_required
def test_optional_login_lets_guests_in(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], browser: WebDriver
) -> None:
    server = serve_panel("--oauth-optional")
    browser.get(server.app_url)
    wait_for(browser, showing("You are browsing as a guest."), "the guest page")
    assert browser.title == "Welcome, guest"
    assert browser.current_url.startswith(server.app_url)
    assert not anaconda_idp.requests_to("authorize")

    # A guest can still sign in.
    links = page_links(browser)
    browser.get(links["Sign in with Anaconda"])
    sign_in(browser, anaconda_idp)
    wait_for(browser, signed_in_as(server, EMAIL), "the app after a guest signs in")
    assert_no_secrets_in_log(server, anaconda_idp)


@pytest.mark.e2e
@browser_required
def test_wrong_client_secret_shows_error_page_with_reason(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    server = serve_panel(client_secret="not-the-secret")
    browser.get(server.app_url)
    sign_in(browser, anaconda_idp)
    wait_for(browser, lambda d: d.title == "Panel: Authentication Error", "Panel's error page")
    assert browser.find_element(By.ID, "error-type").text == "Authentication Error"
    assert browser.find_element(By.ID, "error").text == "invalid_client"
    assert "signed in as" not in page_text(browser)
    assert "not-the-secret" not in browser.page_source
    # The failed exchange is logged (as a warning, with its URL), but not the code or secret.
    assert "invalid_client" in server.log()
    assert_no_secrets_in_log(server, anaconda_idp)


@pytest.mark.e2e
@browser_required
def test_denied_consent_shows_error_page_with_reason(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    server = serve_panel()
    browser.get(server.app_url)
    wait_for(browser, on_login_form(anaconda_idp), "the provider's login form")
    browser.find_element(By.ID, "deny").click()
    wait_for(browser, lambda d: d.title == "Panel: Authentication Error", "Panel's error page")
    assert browser.find_element(By.ID, "error").text == "access_denied"
    assert not anaconda_idp.requests_to("token")
    # The error page offers the provider's end-session link (discovered, never hard-coded).
    logout_link = browser.find_element(By.LINK_TEXT, "Logout").get_attribute("href")
    assert logout_link == f"{anaconda_idp.url}/logout?client_id={CLIENT_ID}"


def test_server_side_tls_uses_ssl_verify(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer]
) -> None:
    """Without the provider's CA in ``ssl_verify`` (and none in the environment) Panel's calls
    to the provider fail verification, and the login page says why instead of a bare error."""
    import requests

    server = serve_panel(ssl_verify=None)  # default: the system store, which lacks the CA
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(f"{server.url}/login", allow_redirects=False, timeout=30)
    assert response.status_code == 502
    assert "Identity provider unavailable" in response.text
    assert (
        "CERTIFICATE_VERIFY_FAILED" in response.text or "certificate verify failed" in response.text
    )
    assert anaconda_idp.domain in response.text
    assert not anaconda_idp.requests_to("discovery")  # the TLS handshake failed first


def login_with_requests(server: PanelServer, idp: IdentityProvider) -> Any:
    """The browser's part of the login, with ``requests``: app -> provider form -> sign in
    -> back to the app. Returns the last response."""
    import requests

    http = requests.Session()
    http.trust_env = False
    http.verify = str(idp.ca_path)
    form = http.get(server.app_url, timeout=60)
    assert form.url.startswith(f"{idp.url}/authorize") and 'id="login-form"' in form.text
    action = re.search(r'action="([^"]+)"', form.text)
    assert action
    return http.post(
        urljoin(form.url, html.unescape(action[1])),
        data={"username": EMAIL, "password": PASSWORD, "action": "approve"},
        timeout=60,
    )


def test_config_error_shows_reason(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer]
) -> None:
    import requests

    server = serve_panel(ssl_verify="/nonexistent/ca.pem")
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(f"{server.url}/login", allow_redirects=False, timeout=30)
    assert response.status_code == 500
    assert "Configuration error" in response.text
    assert "/nonexistent/ca.pem" in response.text
    assert not anaconda_idp.requests


def test_token_endpoint_timeout_shows_reason(
    anaconda_idp: IdentityProvider,
    serve_panel: Callable[..., PanelServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_HTTP_TIMEOUT", "1")
    server = serve_panel()
    anaconda_idp.faults.delay["token"] = 3.0
    response = login_with_requests(server, anaconda_idp)
    assert response.status_code == 502, response.text
    assert "Identity provider unavailable" in response.text
    assert "did not answer" in response.text
    assert len(anaconda_idp.requests_to("token")) == 1
    assert_no_secrets_in_log(server, anaconda_idp)


def test_login_without_browser_reaches_the_app(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer]
) -> None:
    """The same flow as the browser tests, over plain HTTP: the app page is served."""
    server = serve_panel()
    response = login_with_requests(server, anaconda_idp)
    assert response.status_code == 200
    assert response.url == server.app_url
    assert f"<title>Signed in as {EMAIL}</title>" in response.text


def test_readme_example_app(
    anaconda_idp: IdentityProvider, serve_panel: Callable[..., PanelServer], tmp_path: Path
) -> None:
    """The app in the README's "Panel apps" section runs as shown."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("\n## Panel apps\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(# app\.py\n.*?)```", section, re.DOTALL)
    assert match, "no app.py block in the README's Panel section"
    app = tmp_path / "app.py"
    app.write_text(match[1])
    server = serve_panel(app=app)
    assert server.app_url == f"{server.url}/app"
    response = login_with_requests(server, anaconda_idp)
    assert response.status_code == 200
    assert f"<title>Signed in as {EMAIL}</title>" in response.text


@pytest.mark.parametrize("how", ["domain", "auth_domain_override", "compat-extra-param"])
def test_login_redirect_uses_discovered_endpoint(
    anaconda_idp: IdentityProvider,
    serve_panel: Callable[..., PanelServer],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """Without a browser: /login redirects to the authorization endpoint discovered at the
    auth domain, with the client id, scopes, PKCE and a state, and sets the state and
    verifier cookies. The auth domain is ``domain``, or ``auth_domain_override`` (here the
    ``domain`` is unreachable), or 0.x's ``--oauth-extra-params "{'auth-domain': ...}"``."""
    import requests

    extra: tuple[str, ...] = ()
    if how == "auth_domain_override":
        monkeypatch.setenv("ANACONDA_AUTH_AUTH_DOMAIN_OVERRIDE", anaconda_idp.domain)
    elif how == "compat-extra-param":
        extra = ("--oauth-extra-params", repr({"auth-domain": anaconda_idp.domain}))
    server = serve_panel(*extra, domain=None if how == "domain" else "anaconda.invalid")
    with requests.Session() as http:
        http.trust_env = False
        response = http.get(f"{server.url}/login", allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == f"{anaconda_idp.url}/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["scope"] == "openid email profile offline_access"
    assert query["response_type"] == "code"
    assert query["state"] and query["code_challenge"] and query["code_challenge_method"] == "S256"
    assert "auth-domain" not in query and "client_secret" not in query
    assert {"panel-oauth-state", "panel-oauth-code"} <= set(response.cookies.keys())
    assert len(anaconda_idp.requests_to("discovery")) == 1


# ---------------------------------------------------------------------------------------------
# the module's pieces, in process, against the same provider


@pytest.fixture
def panel_module() -> Iterator[Any]:
    import anaconda_auth.plugins.panel as module

    module._discovered.clear()
    yield module
    module._discovered.clear()


def _config(idp: IdentityProvider, **fields: Any) -> Any:
    from anaconda_auth.config import AnacondaAuthConfig

    return AnacondaAuthConfig(**{"domain": idp.domain, "ssl_verify": str(idp.ca_path), **fields})


def test_discovery_endpoints_and_cache(anaconda_idp: IdentityProvider, panel_module: Any) -> None:
    import asyncio

    config = _config(anaconda_idp)
    endpoints = asyncio.run(panel_module.discover(config))
    assert endpoints == panel_module.OIDCEndpoints(
        issuer=anaconda_idp.issuer,
        authorization_endpoint=f"{anaconda_idp.url}/authorize",
        token_endpoint=f"{anaconda_idp.url}/token",
        userinfo_endpoint=f"{anaconda_idp.url}/userinfo",
        end_session_endpoint=f"{anaconda_idp.url}/logout",
    )
    (request,) = anaconda_idp.requests_to("discovery")
    assert request.headers["User-Agent"].startswith("anaconda-auth/")
    # Cached: neither the async nor the blocking variant asks again.
    assert asyncio.run(panel_module.discover(config)) is endpoints
    assert panel_module.discover_sync(config) is endpoints
    assert len(anaconda_idp.requests_to("discovery")) == 1
    # The blocking variant on its own, same TLS settings.
    panel_module._discovered.clear()
    assert panel_module.discover_sync(config) == endpoints


@pytest.mark.parametrize(
    ("ssl_verify", "works"),
    [("ca", True), (False, True), (True, False), ("truststore", False)],
)
def test_discovery_verifies_tls_as_configured(
    anaconda_idp: IdentityProvider,
    panel_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    ssl_verify: Any,
    works: bool,
) -> None:
    import asyncio

    if ssl_verify == "truststore":
        pytest.importorskip("truststore")
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    value = str(anaconda_idp.ca_path) if ssl_verify == "ca" else ssl_verify
    config = _config(anaconda_idp, ssl_verify=value)
    if works:
        assert asyncio.run(panel_module.discover(config)).token_endpoint.endswith("/token")
        panel_module._discovered.clear()
        assert panel_module.discover_sync(config).token_endpoint.endswith("/token")
    else:
        with pytest.raises(panel_module.DiscoveryError, match="(?i)certificate"):
            asyncio.run(panel_module.discover(config))
        with pytest.raises(panel_module.DiscoveryError, match="(?i)certificate"):
            panel_module.discover_sync(config)


def test_discovery_ca_directory(
    anaconda_idp: IdentityProvider, panel_module: Any, tmp_path: Path
) -> None:
    """``ssl_verify`` may name a directory of hashed certificates (``c_rehash`` layout)."""
    import asyncio

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command for the subject hash")
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(anaconda_idp.ca_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    directory = tmp_path / "certs"
    directory.mkdir()
    shutil.copy(anaconda_idp.ca_path, directory / f"{subject_hash}.0")
    config = _config(anaconda_idp, ssl_verify=str(directory))
    assert asyncio.run(panel_module.discover(config)).issuer == anaconda_idp.issuer


@pytest.mark.parametrize(
    ("fault", "message"),
    [("status", "HTTP 500"), ("invalid_json", "did not return JSON")],
)
def test_discovery_failures_are_named(
    anaconda_idp: IdentityProvider, panel_module: Any, fault: str, message: str
) -> None:
    import asyncio

    if fault == "status":
        anaconda_idp.faults.discovery_status = 500
    else:
        anaconda_idp.faults.invalid_json.add("discovery")
    config = _config(anaconda_idp)
    for attempt in (lambda: asyncio.run(panel_module.discover(config)),
                    lambda: panel_module.discover_sync(config)):  # fmt: skip
        with pytest.raises(panel_module.DiscoveryError, match=message) as caught:
            attempt()
        assert anaconda_idp.domain in str(caught.value)
    assert not panel_module._discovered  # failures are not cached


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"authorization_endpoint": "https://x/a"},
        {"authorization_endpoint": "http://x/a", "token_endpoint": "https://x/t"},
        {"authorization_endpoint": "https://x/a", "token_endpoint": "https://x/t",
         "userinfo_endpoint": "ftp://x/u"},
    ],
)  # fmt: skip
def test_unusable_discovery_documents(panel_module: Any, document: Any) -> None:
    with pytest.raises(panel_module.DiscoveryError, match="https://idp/.well-known"):
        panel_module.OIDCEndpoints.from_document(document, "https://idp/.well-known")


def test_logout_url(
    anaconda_idp: IdentityProvider, panel_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from panel.config import config as panel_config

    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", anaconda_idp.domain)
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(anaconda_idp.ca_path))
    monkeypatch.setattr(panel_config, "oauth_key", CLIENT_ID)
    assert panel_module.logout_url() == f"{anaconda_idp.url}/logout?client_id={CLIENT_ID}"
    assert panel_module.logout_url("http://127.0.0.1:5006/logout") == (
        f"{anaconda_idp.url}/logout?client_id={CLIENT_ID}"
        "&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A5006%2Flogout"
    )
    assert len(anaconda_idp.requests_to("discovery")) == 1
