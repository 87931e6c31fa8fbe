"""The login flows end to end, against the local HTTPS identity provider.

The browser is ``tests/support/browser_script.py`` run through ``$BROWSER`` as a real subprocess;
the device flow is approved through the provider's test API from a thread.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.login import BROWSER_SCRIPT, HANG_TIMEOUT, Browser, RecordingUI, free_port

from anaconda_auth import __version__
from anaconda_auth.actions import (
    current_token,
    is_logged_in,
    load_site_config,
    login,
    logout,
)
from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSite
from anaconda_auth.exceptions import TokenNotFoundError, UnknownSiteName
from anaconda_auth.flows import discovery
from anaconda_auth.token import TokenInfo

pytestmark = pytest.mark.usefixtures("fresh_discovery")


class ApprovingUI(RecordingUI):
    """Approves the device code from a thread once the login shows it, as a user in a browser
    would: the thread waits for the login's own call, not for a guessed delay."""

    def __init__(self, idp: Any) -> None:
        super().__init__()
        self._idp = idp
        self._shown = threading.Event()
        self.approver = threading.Thread(target=self._approve, daemon=True)
        self.approver.start()

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        super().show_device_code(verification_uri, user_code, complete_uri)
        self._shown.set()

    def _approve(self) -> None:
        if self._shown.wait(HANG_TIMEOUT):
            self._idp.approve_device(self.device_codes[-1][1])


class FrozenProviderClock:
    """The provider's clocks with monotonic time standing still: to the provider, every device
    poll comes at once after the previous one, however slowly this machine runs."""

    time = staticmethod(time.time)

    @staticmethod
    def monotonic() -> float:
        return 0.0


def whoami(idp: Any, api_key: str) -> dict[str, Any]:
    with idp.http_session() as s:
        r = s.get(f"{idp.url}/api/account", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


# -- browser flow -----------------------------------------------------------------------------


def test_browser_login_end_to_end(anaconda_idp: Any, fake_browser: Browser) -> None:
    ui = RecordingUI()
    login(device=False, ui=ui)

    info = current_token()
    assert info.api_key and info.username == "alice@example.com"
    assert info.domain == anaconda_idp.domain
    assert not info.expired
    assert is_logged_in()
    assert whoami(anaconda_idp, info.api_key)["user"]["email"] == "alice@example.com"

    # The authorize request: PKCE S256, the scope, a random state, a loopback redirect.
    (authorize,) = anaconda_idp.requests_to("authorize")
    query = authorize.query
    assert query["response_type"] == "code"
    assert query["scope"] == "openid email profile offline_access"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    redirect = urlsplit(query["redirect_uri"])
    assert redirect.hostname == "127.0.0.1" and redirect.port and redirect.path == "/auth/oidc"
    assert ui.authorize_urls and ui.authorize_urls[0].startswith(f"{anaconda_idp.url}/authorize?")

    # The code exchange carries the verifier of that challenge.
    (exchange,) = anaconda_idp.requests_to("token")
    form = exchange.form
    assert form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == query["redirect_uri"]
    assert form["client_id"] == query["client_id"]
    assert 43 <= len(form["code_verifier"]) <= 128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest())
    assert challenge.rstrip(b"=").decode() == query["code_challenge"]

    # The API key request.
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert mint.json == {
        "scopes": ["cloud:read", "cloud:write", "repo:read"],
        "tags": [f"anaconda-auth/v{__version__}"],
    }
    assert mint.headers["Authorization"].startswith("Bearer ")
    assert mint.headers["User-Agent"] == f"anaconda-auth/{__version__}"

    # The browser came back to the loopback server and was sent to the success page.
    (callback,) = fake_browser.callback_hops()
    assert callback["status"] == 302
    assert callback["location"] == AnacondaAuthConfig().login_success_url


def test_browser_login_on_a_fixed_port_with_a_plain_browser_command(
    anaconda_idp: Any, fake_browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$BROWSER`` as a bare executable (the URL appended) and redirect_uri with a port."""
    wrapper = tmp_path / "fake-browser"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{BROWSER_SCRIPT}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER", str(wrapper))
    uri = f"http://127.0.0.1:{free_port()}/custom/callback"
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", uri)

    login(device=False, ui=RecordingUI())

    assert current_token().api_key
    (authorize,) = anaconda_idp.requests_to("authorize")
    assert authorize.query["redirect_uri"] == uri
    assert fake_browser.callback_hops()[0]["url"].startswith(uri + "?")


def test_browser_login_through_the_login_form(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's own test browser signs in through its HTML form (no auto-approve)."""
    anaconda_idp.settings.auto_approve = False
    monkeypatch.setenv(
        "BROWSER", anaconda_idp.browser_command.replace(" %s", " --login alice@example.com %s")
    )
    login(device=False, ui=RecordingUI())
    assert current_token().username == "alice@example.com"


def test_the_python_api_prints_the_url_when_no_ui_is_given(
    anaconda_idp: Any, fake_browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    login(device=False)
    err = capsys.readouterr().err
    assert f"{anaconda_idp.url}/authorize?" in err
    assert current_token().api_key


# -- device flow ------------------------------------------------------------------------------


def test_device_login_end_to_end(anaconda_idp: Any, login_home: Path) -> None:
    ui = ApprovingUI(anaconda_idp)
    login(device=True, ui=ui)
    ui.approver.join(HANG_TIMEOUT)

    info = current_token()
    assert info.api_key and info.username == "alice@example.com"
    assert whoami(anaconda_idp, info.api_key)["user"]["email"] == "alice@example.com"

    ((verification_uri, user_code, complete),) = ui.device_codes
    assert verification_uri == f"{anaconda_idp.url}/device"
    assert user_code and complete and user_code in complete
    (start,) = anaconda_idp.requests_to("device_authorization")
    assert start.form["scope"] == "openid email profile offline_access"
    polls = anaconda_idp.requests_to("token")
    assert polls and all(
        p.form["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code" for p in polls
    )
    assert not anaconda_idp.requests_to("authorize")


def test_device_flow_polls_politely(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interval is honoured, and ``slow_down`` adds 5 s to it (RFC 8628 §3.5)."""
    from anaconda_auth.plugins.testing import oauth_server

    from anaconda_auth import device_flow
    from anaconda_auth.http import session as _http

    monkeypatch.setattr(oauth_server, "time", FrozenProviderClock)
    anaconda_idp.settings.device_interval = 1
    anaconda_idp.settings.slow_down_increment = 0
    requested: list[float] = []

    def sleep(seconds: float) -> None:
        requested.append(seconds)
        if len(requested) < 3:
            return  # poll at once: the second poll comes too early, the answer is slow_down
        anaconda_idp.approve_device()  # an approved code is answered whenever it is polled

    config = AnacondaAuthConfig()
    with _http.make_session(config) as session:
        provider = discovery.discover(config, session)
        tokens = device_flow.run(config, provider, session, RecordingUI(), sleep=sleep)
    assert tokens.access_token
    assert requested == [1, 1, 1 + device_flow.SLOW_DOWN_STEP]
    assert len(anaconda_idp.requests_to("token")) == 3


def test_device_flow_is_chosen_when_no_browser_can_open(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    ui = RecordingUI()
    login(ui=ui)
    assert ui.device_codes and not ui.authorize_urls
    assert current_token().api_key


@pytest.mark.parametrize(
    ("env", "available"),
    [
        ({"BROWSER": "firefox"}, True),
        ({"BROWSER": "firefox", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, True),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, False),
        ({"DISPLAY": ":0", "SSH_TTY": "/dev/pts/1"}, False),
        ({}, False),
    ],
)
def test_browser_available(
    env: dict[str, str], available: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.flows.browser import browser_available

    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ok, reason = browser_available()
    assert ok is available, reason
    assert reason


def test_use_device_flow_config_and_the_device_argument(
    anaconda_idp: Any, fake_browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    monkeypatch.setenv("ANACONDA_AUTH_USE_DEVICE_FLOW", "true")
    ui = RecordingUI()
    login(ui=ui)  # a browser is available, but the config asks for the device flow
    assert ui.device_codes and not ui.authorize_urls

    ui = RecordingUI()
    login(force=True, device=False, ui=ui)  # the argument wins over the config
    assert ui.authorize_urls and not ui.device_codes
    assert fake_browser.callback_hops()


# -- when to log in ---------------------------------------------------------------------------


def test_login_is_a_no_op_while_the_key_is_valid(
    anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    login(device=True, ui=RecordingUI())
    assert anaconda_idp.requests == []
    assert current_token().api_key == anaconda_logged_in.api_key


def test_force_logs_in_again_and_keeps_repo_tokens(
    anaconda_idp: Any, anaconda_logged_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", "http://127.0.0.1:0/auth/oidc")
    info = current_token()
    info.set_repo_token("my-org", "repo-token-value")
    info.save()
    anaconda_idp.settings.device_auto_approve = True

    login(force=True, device=True, ui=RecordingUI())

    after = current_token()
    assert after.api_key and after.api_key != anaconda_logged_in.api_key
    assert after.get_repo_token("my-org") == "repo-token-value"
    assert len(anaconda_idp.requests_to("api_keys")) == 1


def test_an_expired_key_makes_login_run_again(anaconda_idp: Any, login_home: Path) -> None:
    expired = anaconda_idp.mint_api_key(lifetime=-60)
    TokenInfo(domain=anaconda_idp.domain, api_key=expired, username="alice@example.com").save()
    assert not is_logged_in()
    anaconda_idp.settings.device_auto_approve = True

    login(device=True, ui=RecordingUI())

    assert is_logged_in()
    assert current_token().api_key != expired


def test_logout_then_login_is_required(anaconda_idp: Any, anaconda_logged_in: Any) -> None:
    assert is_logged_in()
    logout()
    assert not is_logged_in()
    with pytest.raises(TokenNotFoundError):
        current_token()
    with pytest.raises(TokenNotFoundError, match="log in"):
        TokenInfo(domain=anaconda_idp.domain).get_access_token()
    logout()  # nothing stored: no error


def test_login_then_logout_by_site_name(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_toml = Path(os.environ["ANACONDA_CONFIG_TOML"])
    config_toml.parent.mkdir(parents=True, exist_ok=True)
    config_toml.write_text(
        'default_site = "other"\n'
        f'[sites.local]\ndomain = "{anaconda_idp.domain}"\n'
        f'ssl_verify = "{anaconda_idp.ca_path}"\n'
        '[sites.other]\ndomain = "other.example.com"\n'
    )
    monkeypatch.delenv("ANACONDA_AUTH_DOMAIN")
    monkeypatch.delenv("ANACONDA_AUTH_SSL_VERIFY")
    anaconda_idp.settings.device_auto_approve = True

    login("local", device=True, ui=RecordingUI())
    assert is_logged_in("local") and is_logged_in(anaconda_idp.domain)
    assert not is_logged_in()  # the default site is "other"
    logout("local")
    assert not is_logged_in("local")


# -- load_site_config -------------------------------------------------------------------------


def test_load_site_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_toml = tmp_path / "config.toml"
    config_toml.write_text(
        'default_site = "beta"\n'
        '[sites.alpha]\ndomain = "alpha.example.com"\nssl_verify = false\n'
        '[sites.beta]\ndomain = "beta.example.com"\n'
    )
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", str(config_toml))

    assert load_site_config().domain == "beta.example.com"
    assert load_site_config("alpha").domain == "alpha.example.com"
    assert load_site_config("alpha").ssl_verify is False
    assert load_site_config("alpha.example.com").domain == "alpha.example.com"
    assert load_site_config("alpha", ssl_verify=True).ssl_verify is True
    assert load_site_config("elsewhere.example.com").domain == "elsewhere.example.com"
    with pytest.raises(UnknownSiteName, match="gamma"):
        load_site_config("gamma")

    site = AnacondaAuthSite(domain="site.example.com")
    assert load_site_config(site) is site
    copy = load_site_config(site, ssl_verify="truststore")
    assert copy.ssl_verify == "truststore" and site.ssl_verify is True
    assert load_site_config(site, ssl_verify=None) is site


def test_ssl_verify_argument_reaches_the_requests(anaconda_idp: Any, login_home: Path) -> None:
    """``login(ssl_verify=...)`` overrides the config: True means the default trust store,
    which does not know the provider's throwaway CA."""
    from anaconda_auth.http.session import TLSError

    with pytest.raises(TLSError):
        login(ssl_verify=True, device=True, ui=RecordingUI())
    assert anaconda_idp.requests == []


def test_unparsable_browser_variable_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A $BROWSER with an unbalanced quote must not crash the opener thread."""
    from anaconda_auth.flows import browser as browser_flow

    monkeypatch.setenv("BROWSER", '"/usr/bin/firefox %s')
    with caplog.at_level("WARNING", logger="anaconda_auth.flows.browser"):
        thread = browser_flow.open_browser("https://example.invalid/authorize")
        thread.join(5)
    assert not thread.is_alive()
    assert browser_flow._browser_env_commands("https://x.invalid") == []
    assert any("ignoring the $BROWSER entry" in r.getMessage() for r in caplog.records)


# -- 0.15's private steps: login() runs through them, looked up when it runs ----------------------


def test_login_runs_through_0_15s_private_steps(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_do_login`` → ``_do_device_flow`` → ``get_api_key``, each read from the module when the
    login runs, with 0.15's arguments; the login's UI and session are shared by the steps."""
    from anaconda_auth import actions

    calls: list[tuple[str, dict[str, Any]]] = []

    def spy(name: str) -> None:
        real = getattr(actions, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(actions, name, wrapper)

    for name in ("_do_login", "_do_device_flow", "_do_auth_flow", "get_api_key"):
        spy(name)
    anaconda_idp.settings.device_auto_approve = True
    ui = RecordingUI()
    login(ssl_verify=str(anaconda_idp.ca_path), device=True, ui=ui)

    assert [name for name, _ in calls] == ["_do_login", "_do_device_flow", "get_api_key"]
    login_kwargs = calls[0][1]
    assert set(login_kwargs) == {"config", "basic"} and login_kwargs["basic"] is False
    site = login_kwargs["config"]
    assert isinstance(site, AnacondaAuthSite) and site.ssl_verify == str(anaconda_idp.ca_path)
    assert calls[1][1] == {"config": site}
    assert set(calls[2][1]) == {"config"} and calls[2][1]["config"] is site
    assert len(ui.device_codes) == 1  # the device step spoke through the login's UI
    info = current_token()
    assert info.username == "alice@example.com"  # the flow's tokens reached the storing step
    assert whoami(anaconda_idp, info.api_key or "")["user"]["email"] == "alice@example.com"


def test_a_replaced_flow_step_replaces_the_real_one(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code written for 0.15 replaces ``_do_device_flow`` (it returns an access token): the
    login mints and stores the key from that token and runs no flow of its own."""
    from anaconda_auth import actions

    anaconda_idp.settings.device_auto_approve = True
    access_token = actions._do_device_flow()  # on its own: a token, nothing stored
    with pytest.raises(TokenNotFoundError):
        current_token()
    starts = len(anaconda_idp.requests_to("device_authorization"))

    seen: list[AnacondaAuthSite] = []

    def replaced(config: AnacondaAuthSite) -> str:
        seen.append(config)
        return access_token

    monkeypatch.setattr(actions, "_do_device_flow", replaced)
    login(device=True, ui=RecordingUI())

    assert len(seen) == 1
    assert len(anaconda_idp.requests_to("device_authorization")) == starts  # no flow ran
    info = current_token()
    assert info.api_key and info.username is None  # no tokens of a flow: no email known
    assert whoami(anaconda_idp, info.api_key)["user"]["email"] == "alice@example.com"


def test_a_replaced_do_login_is_what_login_runs(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth import actions

    def replaced(config: AnacondaAuthSite, basic: bool) -> None:
        TokenInfo(domain=config.domain, api_key="from-the-replacement").save()

    monkeypatch.setattr(actions, "_do_login", replaced)
    login(force=True)
    assert current_token().api_key == "from-the-replacement"
    assert anaconda_idp.requests == []  # the real steps never ran
    with pytest.raises(ValueError, match="^You cannot set both site= and config= arguments"):
        login(site="x", config=AnacondaAuthConfig())
