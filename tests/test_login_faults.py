"""Every way a login can fail: a clear message, and nothing stored.

The faults are injected into the real HTTPS identity provider (``anaconda_idp.faults``); the
browser is the fake ``$BROWSER`` script run as a subprocess.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests
from support.login import Browser, RecordingUI, free_port

from anaconda_auth.actions import current_token, is_logged_in, login
from anaconda_auth.config import AnacondaAuthConfig
from anaconda_auth.exceptions import (
    AuthenticationError,
    DeviceFlowDenied,
    DeviceFlowError,
    DeviceFlowTimeout,
    StorageUnavailableError,
    TokenNotFoundError,
)
from anaconda_auth.flows import discovery
from anaconda_auth.flows.api_keys import APIKeyError
from anaconda_auth.flows.discovery import DiscoveryError
from anaconda_auth.flows.redirect_server import (
    AuthorizationFailed,
    CallbackTimeout,
    RedirectPortInUse,
    RedirectServerError,
    StateMismatch,
)
from anaconda_auth.http.session import ProviderError, TLSError

pytestmark = pytest.mark.usefixtures("fresh_discovery")


def assert_nothing_stored() -> None:
    with pytest.raises(TokenNotFoundError):
        current_token()


# -- discovery --------------------------------------------------------------------------------


def test_discovery_server_error(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.faults.discovery_status = 503
    with pytest.raises(DiscoveryError) as info:
        login(device=True, ui=RecordingUI())
    message = str(info.value)
    assert f"{anaconda_idp.url}/.well-known/openid-configuration" in message
    assert "HTTP 503" in message and "try again" in message
    assert info.value.status == 503
    assert_nothing_stored()


def test_discovery_is_fetched_once_per_process(anaconda_idp: Any, login_home: Path) -> None:
    config = AnacondaAuthConfig()
    first = discovery.discover(config)
    anaconda_idp.faults.discovery_status = 503  # a second fetch would fail
    assert discovery.discover(config) is first
    assert len(anaconda_idp.requests_to("discovery")) == 1
    # Other TLS settings are another cache entry.
    with pytest.raises(TLSError):
        discovery.discover(AnacondaAuthConfig(ssl_verify=True))


def test_discovery_timeout(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_HTTP_TIMEOUT", "0.5")
    anaconda_idp.faults.delay["discovery"] = 5
    with pytest.raises(ProviderError, match=r"no response from https://.* within 0\.5 s"):
        login(device=True, ui=RecordingUI())
    assert len(anaconda_idp.requests_to("discovery")) == 1  # gave up after one try, no retry
    assert_nothing_stored()


def test_discovery_invalid_json(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.faults.invalid_json.add("discovery")
    with pytest.raises(DiscoveryError, match="did not return valid JSON"):
        login(device=True, ui=RecordingUI())
    assert_nothing_stored()


def test_discovery_document_without_endpoints(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_OPENID_CONFIG_PATH", "/jwks.json")  # JSON, no endpoints
    with pytest.raises(DiscoveryError, match="lacks authorization_endpoint, token_endpoint"):
        login(device=True, ui=RecordingUI())
    assert_nothing_stored()


def test_discovery_not_found(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_OPENID_CONFIG_PATH", "/no/such/document")
    with pytest.raises(DiscoveryError, match="no OpenID configuration at .*HTTP 404"):
        login(device=True, ui=RecordingUI())


def test_unreachable_provider(login_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", f"127.0.0.1:{free_port()}")
    with pytest.raises(ProviderError, match="could not connect to 127.0.0.1:"):
        login(device=True, ui=RecordingUI())


# -- TLS --------------------------------------------------------------------------------------


def test_tls_verification_failure_names_the_url_and_the_fix(
    anaconda_idp: Any, login_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.plugins.testing.ca import create_tls_files

    other_ca = create_tls_files(tmp_path / "other").ca_path
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(other_ca))
    with pytest.raises(TLSError) as info:
        login(device=True, ui=RecordingUI())
    message = str(info.value)
    assert f"TLS certificate of {anaconda_idp.url}/.well-known/openid-configuration" in message
    assert "could not be verified" in message and "ssl_verify" in message
    assert "truststore" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert anaconda_idp.requests == []
    assert_nothing_stored()


def test_explicit_ca_bundle_wins_over_requests_ca_bundle(
    anaconda_idp: Any, login_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain requests lets REQUESTS_CA_BUNDLE replace a session's CA path; we do not."""
    from anaconda_auth.plugins.testing.ca import create_tls_files

    from anaconda_auth.http import session as _http

    other_ca = create_tls_files(tmp_path / "other").ca_path
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_ca))
    url = f"{anaconda_idp.url}/.well-known/openid-configuration"

    plain = requests.Session()
    plain.verify = str(anaconda_idp.ca_path)
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(url, timeout=10)  # the behaviour we guard against

    with _http.make_session(AnacondaAuthConfig()) as session:
        assert _http.send(session, "GET", url, what="test").status_code == 200

    # With ssl_verify = true the environment's bundle is honoured, as users expect.
    with (
        _http.make_session(AnacondaAuthConfig(ssl_verify=True)) as session,
        pytest.raises(TLSError),
    ):
        _http.send(session, "GET", url, what="test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(anaconda_idp.ca_path))
    with _http.make_session(AnacondaAuthConfig(ssl_verify=True)) as session:
        assert _http.send(session, "GET", url, what="test").status_code == 200


def test_ssl_verify_truststore(
    anaconda_idp: Any, login_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``truststore`` uses the system store (OpenSSL's, which honours SSL_CERT_FILE here)."""
    from anaconda_auth.plugins.testing.ca import create_tls_files

    from anaconda_auth.http import session as _http

    pytest.importorskip("truststore")
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "truststore")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(anaconda_idp.ca_path))  # must not matter
    monkeypatch.setenv("SSL_CERT_FILE", str(create_tls_files(tmp_path / "other").ca_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    url = f"{anaconda_idp.url}/.well-known/openid-configuration"
    with _http.make_session(AnacondaAuthConfig()) as session, pytest.raises(TLSError):
        _http.send(session, "GET", url, what="test")

    monkeypatch.setenv("SSL_CERT_FILE", str(anaconda_idp.ca_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other" / "ca.pem"))
    with _http.make_session(AnacondaAuthConfig()) as session:
        assert _http.send(session, "GET", url, what="test").status_code == 200


def test_ssl_verify_path_that_does_not_exist(
    login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.exceptions import ConfigError

    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "/no/such/ca.pem")
    with pytest.raises(ConfigError, match="no/such/ca.pem"):
        login(device=True, ui=RecordingUI())


# -- browser flow -----------------------------------------------------------------------------


def test_access_denied_at_the_provider(anaconda_idp: Any, fake_browser: Browser) -> None:
    anaconda_idp.faults.authorize_error = "access_denied"
    with pytest.raises(AuthorizationFailed, match="denied.*access_denied") as info:
        login(device=False, ui=RecordingUI())
    assert info.value.error == "access_denied"
    assert "Nothing was stored" in str(info.value)
    (callback,) = fake_browser.callback_hops()
    assert callback["location"] == AnacondaAuthConfig().login_error_url
    assert anaconda_idp.requests_to("token") == []
    assert_nothing_stored()


def test_state_mismatch_aborts_the_login(anaconda_idp: Any, fake_browser: Browser) -> None:
    anaconda_idp.faults.wrong_state = True
    with pytest.raises(StateMismatch, match="did not carry the state"):
        login(device=False, ui=RecordingUI())
    (callback,) = fake_browser.callback_hops()
    assert callback["status"] == 400 and "rejected" in callback["body"]
    assert anaconda_idp.requests_to("token") == []  # the code was never used
    assert_nothing_stored()


def test_a_replayed_callback_is_rejected_while_the_login_runs(
    anaconda_idp: Any, fake_browser: Browser
) -> None:
    fake_browser.mode("concurrent-replay")
    anaconda_idp.faults.delay["token"] = 1.5  # keep the first callback held a while
    login(device=False, ui=RecordingUI())
    first, second = sorted(fake_browser.callback_hops(), key=lambda h: h["status"])
    assert first["status"] == 302 and first["location"] == AnacondaAuthConfig().login_success_url
    assert second["status"] == 400 and "already" in second["body"]
    assert len(anaconda_idp.requests_to("token")) == 1
    assert current_token().api_key


def test_an_old_callback_replayed_into_a_new_login_is_rejected(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{free_port()}/auth/oidc"
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", uri)
    login(device=False, ui=RecordingUI())
    first_key = current_token().api_key
    (old_callback,) = fake_browser.callback_hops()

    # After the login the loopback server is gone.
    with pytest.raises(requests.ConnectionError):
        requests.get(old_callback["url"], timeout=5)

    fake_browser.mode(f"visit:{old_callback['url']}")
    with pytest.raises(StateMismatch):
        login(force=True, device=False, ui=RecordingUI())
    assert len(anaconda_idp.requests_to("token")) == 1  # the old code was not exchanged again
    assert current_token().api_key == first_key


def test_the_browser_never_comes_back(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_browser.mode("no-callback")
    monkeypatch.setenv("ANACONDA_AUTH_LOGIN_TIMEOUT", "1")
    with pytest.raises(CallbackTimeout, match="Timed out after 1 s"):
        login(device=False, ui=RecordingUI())
    assert_nothing_stored()


def test_redirect_port_in_use(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", f"http://127.0.0.1:{port}/auth/oidc")
        ui = RecordingUI()
        with pytest.raises(RedirectPortInUse) as info:
            login(device=False, ui=ui)
    assert (
        f"port {port} on 127.0.0.1 is in use by another program; close it or set redirect_uri"
        in str(info.value)
    )
    assert ui.authorize_urls == [] and fake_browser.hops() == []
    assert_nothing_stored()


@pytest.mark.parametrize(
    "uri", ["http://0.0.0.0:8000/auth/oidc", "https://127.0.0.1:8000/x", "http://example.com/"]
)
def test_redirect_uri_must_be_loopback_http(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch, uri: str
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", uri)
    with pytest.raises(RedirectServerError, match="must be a loopback http:// URL"):
        login(device=False, ui=RecordingUI())


def test_code_exchange_server_error(anaconda_idp: Any, fake_browser: Browser) -> None:
    anaconda_idp.faults.token_status = 500
    with pytest.raises(ProviderError, match=r"Exchanging the authorization code failed.*HTTP 500"):
        login(device=False, ui=RecordingUI())
    (callback,) = fake_browser.callback_hops()
    assert callback["location"] == AnacondaAuthConfig().login_error_url
    assert_nothing_stored()


# -- device flow ------------------------------------------------------------------------------


def test_device_flow_denied(anaconda_idp: Any, login_home: Path) -> None:
    ui = RecordingUI()

    class DenyingUI(RecordingUI):
        def show_device_code(self, *args: Any) -> None:
            anaconda_idp.deny_device()

    with pytest.raises(DeviceFlowDenied, match="denied"):
        login(device=True, ui=DenyingUI())
    assert ui.device_codes == []
    assert_nothing_stored()


def test_device_code_expired_at_the_provider(anaconda_idp: Any, login_home: Path) -> None:
    class ExpiringUI(RecordingUI):
        def show_device_code(self, *args: Any) -> None:
            anaconda_idp.expire_device()

    with pytest.raises(DeviceFlowTimeout, match="expired"):
        login(device=True, ui=ExpiringUI())
    assert_nothing_stored()


def test_device_code_lifetime_runs_out(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.settings.device_code_lifetime = 1
    anaconda_idp.settings.device_interval = 1
    with pytest.raises(DeviceFlowTimeout):
        login(device=True, ui=RecordingUI())
    assert len(anaconda_idp.requests_to("token")) <= 2  # the interval is the lifetime: 1 s
    assert_nothing_stored()


def test_device_authorization_server_error(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.faults.device_authorization_status = 502
    with pytest.raises(DeviceFlowError, match="HTTP 502"):
        login(device=True, ui=RecordingUI())
    assert_nothing_stored()


# -- API key ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 403, 500])
def test_api_key_mint_must_answer_201(anaconda_idp: Any, login_home: Path, status: int) -> None:
    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.faults.api_key_status = status
    with pytest.raises(APIKeyError) as info:
        login(device=True, ui=RecordingUI())
    message = str(info.value)
    assert f"HTTP {status}" in message and "expected 201" in message
    assert "nothing was stored" in message
    assert info.value.status == status
    # No fallback after a real answer: only the first endpoint was asked.
    assert len(anaconda_idp.requests_to("api_keys")) == 1
    assert anaconda_idp.requests_to("iam_api_keys") == []
    assert_nothing_stored()


def test_api_key_falls_back_to_the_iam_endpoint(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.faults.status["api_keys"] = 404
    login(device=True, ui=RecordingUI())
    assert len(anaconda_idp.requests_to("iam_api_keys")) == 1
    assert is_logged_in()


def test_api_key_both_endpoints_missing(anaconda_idp: Any, login_home: Path) -> None:
    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.faults.status["api_keys"] = 404
    anaconda_idp.faults.status["iam_api_keys"] = 405
    with pytest.raises(APIKeyError, match=r"api/iam/api-keys returned HTTP 405"):
        login(device=True, ui=RecordingUI())
    assert_nothing_stored()


def test_a_failed_forced_login_keeps_the_existing_key(
    anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    anaconda_idp.faults.api_key_status = 500
    with pytest.raises(APIKeyError):
        login(force=True, device=True, ui=RecordingUI())
    assert current_token().api_key == anaconda_logged_in.api_key


def test_unusable_token_storage_fails_before_the_browser_opens(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "no-such-backend")
    with pytest.raises(StorageUnavailableError, match="no-such-backend"):
        login(device=False, ui=RecordingUI())
    assert anaconda_idp.requests == [] and fake_browser.hops() == []


def test_every_login_error_is_an_authentication_error() -> None:
    for cls in (
        ProviderError,
        TLSError,
        DiscoveryError,
        APIKeyError,
        AuthorizationFailed,
        StateMismatch,
        CallbackTimeout,
        RedirectPortInUse,
        DeviceFlowDenied,
    ):
        assert issubclass(cls, AuthenticationError)


# -- Ctrl-C -----------------------------------------------------------------------------------

CANCEL_SCRIPT = textwrap.dedent(
    """
    import sys
    from anaconda_auth.actions import login
    login(device=sys.argv[1] == "device")
    """
)


@pytest.mark.parametrize("flow", ["device", "browser"])
def test_ctrl_c_cancels_cleanly(anaconda_idp: Any, fake_browser: Browser, flow: str) -> None:
    """A real process, interrupted while waiting: a short traceback of KeyboardInterrupt
    only (no chained library errors, no thread noise) and nothing stored."""
    fake_browser.mode("no-callback")
    process = subprocess.Popen(
        [sys.executable, "-c", CANCEL_SCRIPT, flow],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("Waiting") and "for you" in line:  # "Waiting up to 5 minutes for you"
            break
    if flow == "browser":
        fake_browser.runs.wait_idle(runs=1)  # the authorize request is made and answered
    process.send_signal(signal.SIGINT)
    try:
        _, rest = process.communicate(timeout=20)
    finally:
        process.kill()
    stderr = "".join(lines) + rest
    assert process.returncode in (-signal.SIGINT, 130), stderr
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert "During handling of the above exception" not in stderr
    assert "Exception in thread" not in stderr
    assert "urllib3" not in stderr and "requests" not in stderr
    assert_nothing_stored()
    if flow == "browser":
        (authorize,) = anaconda_idp.requests_to("authorize")
        port = int(authorize.query["redirect_uri"].split(":")[2].split("/")[0])
        with socket.socket() as s:  # the loopback server is gone with the process
            assert s.connect_ex(("127.0.0.1", port)) != 0
