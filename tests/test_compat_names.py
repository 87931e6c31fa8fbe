"""0.15.3's public and downstream-used names, run against real parts:
a real loopback callback for ``handlers``, the testing kit's identity provider for the flows."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from support.login import free_port


def _get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = target()
        except BaseException as exc:  # noqa: BLE001
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _wait_listening(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the callback server did not start")


# -- handlers -----------------------------------------------------------------------------------


def test_capture_auth_code_returns_the_code_of_a_real_callback(anaconda_auth_home: Any) -> None:
    from anaconda_auth.handlers import capture_auth_code

    port = free_port()
    uri = f"http://127.0.0.1:{port}/auth/oidc"
    thread, out = _in_thread(lambda: capture_auth_code(uri, state="s-1"))
    _wait_listening(port)
    assert _get(f"http://127.0.0.1:{port}/favicon.ico")[0] == 404
    status, location = _get(f"{uri}?code=the-code&state=s-1")
    thread.join(10)
    assert out == {"value": "the-code"}
    assert status == 302 and "success" in location.lower()


def test_capture_auth_code_refuses_another_state(anaconda_auth_home: Any) -> None:
    from anaconda_auth.exceptions import AuthenticationError
    from anaconda_auth.handlers import capture_auth_code

    port = free_port()
    uri = f"http://127.0.0.1:{port}/auth/oidc"
    thread, out = _in_thread(lambda: capture_auth_code(uri, state="expected"))
    _wait_listening(port)
    _get(f"{uri}?code=c&state=forged")
    thread.join(10)
    assert isinstance(out.get("error"), AuthenticationError)
    assert "value" not in out


def test_capture_auth_code_times_out(
    anaconda_auth_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.exceptions import AuthenticationError
    from anaconda_auth.handlers import capture_auth_code

    monkeypatch.setenv("ANACONDA_AUTH_LOGIN_TIMEOUT", "1")
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="Timed out"):
        capture_auth_code(f"http://127.0.0.1:{free_port()}/auth/oidc", state="s")
    assert time.monotonic() - started < 10


def test_shutdown_all_servers_cancels_a_waiting_capture(anaconda_auth_home: Any) -> None:
    from anaconda_auth.exceptions import AuthenticationError
    from anaconda_auth.handlers import capture_auth_code, shutdown_all_servers

    port = free_port()
    thread, out = _in_thread(
        lambda: capture_auth_code(f"http://127.0.0.1:{port}/auth/oidc", state="s")
    )
    _wait_listening(port)
    shutdown_all_servers()
    thread.join(10)
    assert isinstance(out.get("error"), AuthenticationError)
    assert "Could not complete authentication" in str(out["error"])


def test_auth_code_redirect_server_records_the_redirect(anaconda_auth_home: Any) -> None:
    from anaconda_auth.handlers import AuthCodeRedirectServer

    with AuthCodeRedirectServer("/auth/oidc", ("127.0.0.1", 0)) as server:
        port = server.server_port
        thread, _ = _in_thread(server.handle_request)
        status, location = _get(f"http://127.0.0.1:{port}/auth/oidc?code=abc&state=xyz&scope=a")
        thread.join(10)
    assert status == 307 and location == server.config.login_success_url
    assert server.result is not None
    assert (server.result.auth_code, server.result.state, server.result.scopes) == (
        "abc",
        "xyz",
        ["a"],
    )
    assert "abc" not in repr(server.result)


def test_shutdown_all_servers_releases_a_blocked_handle_request(anaconda_auth_home: Any) -> None:
    from anaconda_auth.handlers import AuthCodeRedirectServer, shutdown_all_servers

    with AuthCodeRedirectServer("/auth/oidc", ("localhost", 0)) as server:
        assert server.server_address[0] == "127.0.0.1"
        thread, _ = _in_thread(server.handle_request)
        time.sleep(0.2)
        shutdown_all_servers()
        thread.join(10)
        assert not thread.is_alive()
    assert server.result is None
    assert server not in AuthCodeRedirectServer._open_servers


def test_auth_code_redirect_server_binds_loopback_only() -> None:
    from anaconda_auth.exceptions import AuthenticationError
    from anaconda_auth.handlers import AuthCodeRedirectServer

    with pytest.raises(AuthenticationError, match="loopback"):
        AuthCodeRedirectServer("/auth/oidc", ("0.0.0.0", 0))  # noqa: S104


# -- device_flow --------------------------------------------------------------------------------


def _site() -> Any:
    from anaconda_auth.config import AnacondaAuthConfig

    return AnacondaAuthConfig()


def test_device_code_flow_initiates_and_polls_for_tokens(
    anaconda_idp: Any, anaconda_auth_home: Any
) -> None:
    from anaconda_auth.device_flow import DeviceAuthorizationResponse, DeviceCodeFlow
    from anaconda_auth.exceptions import DeviceFlowError

    anaconda_idp.settings.device_interval = 1  # 0.15's model takes whole seconds, as RFC 8628
    flow = DeviceCodeFlow(config=_site())
    with pytest.raises(DeviceFlowError, match="initiate_device_authorization"):
        flow.poll_for_token()
    answer = flow.initiate_device_authorization()
    assert isinstance(answer, DeviceAuthorizationResponse)
    assert answer.user_code in anaconda_idp.pending_user_codes()
    assert answer.verification_uri.startswith(anaconda_idp.url)
    assert answer.device_code not in repr(answer)
    with pytest.raises(DeviceFlowError, match="authorization_pending"):
        flow._request_token()
    anaconda_idp.approve_device(answer.user_code)
    tokens = flow.poll_for_token()
    assert isinstance(tokens["access_token"], str) and tokens["access_token"]
    assert tokens["token_type"].lower() == "bearer"
    flow.close()


def test_device_code_flow_denied_and_expired(anaconda_idp: Any, anaconda_auth_home: Any) -> None:
    from anaconda_auth.device_flow import DeviceCodeFlow
    from anaconda_auth.exceptions import DeviceFlowDenied, DeviceFlowTimeout

    anaconda_idp.settings.device_interval = 1
    flow = DeviceCodeFlow(config=_site())
    answer = flow.initiate_device_authorization()
    anaconda_idp.deny_device(answer.user_code)
    with pytest.raises(DeviceFlowDenied):
        flow.poll_for_token()

    answer = flow.initiate_device_authorization()
    anaconda_idp.expire_device(answer.user_code)
    with pytest.raises(DeviceFlowTimeout):
        flow.poll_for_token()


def test_device_flow_keeps_its_existing_names() -> None:
    import anaconda_auth.device_flow as compat
    from anaconda_auth.flows import device

    assert compat.run is device.run
    assert (compat.GRANT_TYPE, compat.DEFAULT_INTERVAL, compat.SLOW_DOWN_STEP) == (
        device.GRANT_TYPE,
        device.DEFAULT_INTERVAL,
        device.SLOW_DOWN_STEP,
    )


# -- actions: the private names anaconda-client imports -------------------------------------------


def test_do_auth_flow_runs_the_browser_login_and_returns_the_access_token(
    anaconda_idp: Any, login_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.actions import _do_auth_flow
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.token_claims import jwt_claims

    anaconda_idp.settings.auto_approve = True
    monkeypatch.setenv("BROWSER", anaconda_idp.browser_command)
    site = AnacondaAuthSite(domain=anaconda_idp.domain, ssl_verify=str(anaconda_idp.ca_path))
    token = _do_auth_flow(config=site)
    assert jwt_claims(token)["email"] == anaconda_idp.settings.users[0].email
    assert len(anaconda_idp.requests_to("authorize")) == 1
    assert anaconda_idp.minted_api_keys == []  # nothing minted, nothing stored


def test_do_device_flow_returns_the_access_token(
    anaconda_idp: Any, login_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth import actions

    def approve_later() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if anaconda_idp.pending_user_codes():
                anaconda_idp.approve_device()
                return
            time.sleep(0.1)

    thread, _ = _in_thread(approve_later)
    token = actions._do_device_flow()
    thread.join(5)
    assert isinstance(token, str) and token


def test_other_private_actions_of_0_15(anaconda_logged_in: Any) -> None:
    from anaconda_auth import actions
    from anaconda_auth.config import AnacondaAuthConfig
    from anaconda_auth.exceptions import AuthenticationError

    assert actions._api_key_is_valid(AnacondaAuthConfig()) is True
    with pytest.raises(AuthenticationError, match="no longer supported"):
        actions._login_with_username()


# -- cli: the names anaconda-assistant-conda and anaconda-ai use --------------------------------


def test_cli_module_attributes_that_other_packages_patch() -> None:
    import sys

    import anaconda_auth.cli
    from anaconda_auth.actions import login

    assert anaconda_auth.cli.sys is sys
    assert anaconda_auth.cli.login is login
    assert callable(anaconda_auth.cli._login_required_message)
    assert callable(anaconda_auth.cli._continue_with_login)


def test_patched_cli_sys_decides_whether_the_handlers_prompt(
    anaconda_auth_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unittest.mock import MagicMock, patch

    from anaconda_auth.plugins.cli import error_handlers
    from anaconda_auth.plugins.cli._state import STATE, is_interactive

    import anaconda_auth.cli
    from anaconda_auth.exceptions import TokenNotFoundError

    monkeypatch.setattr(STATE, "retried", False)
    asked: list[bool] = []
    monkeypatch.setattr(error_handlers, "_ask_to_login", lambda: asked.append(True) or True)
    with patch("anaconda_auth.cli.sys") as mocked, patch("anaconda_auth.cli.login") as login:
        mocked.stdout.isatty.return_value = False
        assert is_interactive() is False
        assert anaconda_auth.cli._continue_with_login() == 1
        assert error_handlers.login_required(TokenNotFoundError()) == 1
        assert asked == [] and not login.called

        mocked.stdout.isatty.return_value = True
        assert is_interactive() is True
        assert anaconda_auth.cli._continue_with_login() == -1
        assert error_handlers.login_required(TokenNotFoundError()) == -1
        assert login.call_count == 2
    assert isinstance(anaconda_auth.cli.login, MagicMock) is False


# -- utils --------------------------------------------------------------------------------------


def test_utils_hostname_helpers_match_the_client_header() -> None:
    import socket

    from anaconda_auth.http.hostname import hash_hostname
    from anaconda_auth.utils import get_hostname, hash_string

    name = socket.gethostname().removesuffix(".local")
    assert get_hostname() == name
    assert get_hostname(hash=True) == hash_hostname(name) == hash_string("hostname", name)
    assert len(hash_string("hostname", name)) == 22
    assert hash_string("hostname", name, "pepper") == hash_string("hostname", name, b"pepper")
    assert hash_string("hostname", name, "pepper") != hash_string("hostname", name)
    assert hash_string("user", name) != hash_string("hostname", name)
    assert get_hostname(hash=True, pepper="x" * 40) == hash_string("hostname", name, "x" * 16)


# -- the anaconda_cloud_auth alias --------------------------------------------------------------

CLOUD_MESSAGE = "Please replace imports from `import anaconda_cloud_auth` to `import anaconda_auth`"
ALIAS_MODULES = ["actions", "cli", "client", "config", "exceptions", "handlers", "token"]


@pytest.fixture
def fresh_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in list(sys.modules):
        if name == "anaconda_cloud_auth" or name.startswith("anaconda_cloud_auth."):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("module", ["", *ALIAS_MODULES])
def test_each_alias_module_warns_with_0_15_wording(fresh_alias: None, module: str) -> None:
    import importlib
    import re

    import anaconda_auth

    with pytest.warns(DeprecationWarning, match=re.escape(CLOUD_MESSAGE)):
        alias = importlib.import_module("anaconda_cloud_auth" + (f".{module}" if module else ""))
    if not module:
        assert alias.login is anaconda_auth.login
        assert alias.logout is anaconda_auth.logout
        assert alias.client_factory is anaconda_auth.client_factory
        assert alias.__version__ == anaconda_auth.__version__


def test_alias_modules_re_export_anaconda_auth_names(fresh_alias: None) -> None:
    import warnings

    from anaconda_auth import actions, cli, client, config, exceptions, handlers, token

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import anaconda_cloud_auth.actions as a
        import anaconda_cloud_auth.cli as c
        import anaconda_cloud_auth.client as cl
        import anaconda_cloud_auth.config as cf
        import anaconda_cloud_auth.exceptions as e
        import anaconda_cloud_auth.handlers as h
        import anaconda_cloud_auth.token  # noqa: F401  (a second import does not warn again)
        import anaconda_cloud_auth.token as t
    assert len(caught) == 1 + len(ALIAS_MODULES)
    assert a.login is actions.login and a._do_auth_flow is actions._do_auth_flow
    assert c.app is cli.app
    assert cl.BaseClient is client.BaseClient
    assert cl.AnacondaCloudConfig is config.AnacondaCloudConfig and cl.TokenInfo is token.TokenInfo
    assert cf.AnacondaCloudConfig is config.AnacondaCloudConfig
    assert cf.OIDC_REQUEST_HEADERS["User-Agent"].startswith("anaconda-cloud-auth/")
    assert e.TokenNotFoundError is exceptions.TokenNotFoundError
    assert h.capture_auth_code is handlers.capture_auth_code
    assert t.TokenInfo is token.TokenInfo


# -- panel --------------------------------------------------------------------------------------


def test_panel_module_of_0_15_forwards_to_the_plugin_without_importing_panel() -> None:
    import subprocess
    import sys

    code = (
        "import sys, anaconda_auth.panel as p\n"
        "assert 'panel' not in sys.modules, 'imported panel'\n"
        "from anaconda_auth.plugins import panel as q\n"
        "assert p.discover_sync is q.discover_sync and p.OIDCEndpoints is q.OIDCEndpoints\n"
        "assert p.SCOPES == q.SCOPES\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_panel_login_handler_from_the_0_15_path() -> None:
    pytest.importorskip("panel")
    import subprocess
    import sys

    code = (
        "from anaconda_auth.panel import AnacondaLoginHandler\n"
        "from anaconda_auth.plugins.panel import AnacondaLoginHandler as H\n"
        "import panel.auth\n"
        "assert AnacondaLoginHandler is H\n"
        "assert issubclass(H, panel.auth.GenericLoginHandler)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- BaseClient.avatar ----------------------------------------------------------------------------


def test_avatar_is_fetched_only_when_read_and_without_the_key(
    anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    import hashlib
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from anaconda_auth.client import BaseClient

    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append((self.path, self.headers.get("Authorization")))
            known = hashlib.md5(anaconda_logged_in.email.encode()).hexdigest()
            body = b"\x89PNG-image" if self.path.startswith(f"/avatar/{known}") else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = BaseClient()
        client.avatar_url = f"http://127.0.0.1:{server.server_port}/avatar/{{hash}}.png?d=404"
        assert client.email == anaconda_logged_in.email
        assert seen == []  # nothing is fetched until avatar is read
        assert client.avatar == b"\x89PNG-image"
        assert client.avatar == b"\x89PNG-image"
        assert len(seen) == 1 and seen[0][1] is None  # once, and never with the API key

        other = BaseClient()
        other.avatar_url = client.avatar_url.replace("/avatar/", "/none/")
        assert other.avatar is None
    finally:
        server.shutdown()
        server.server_close()
