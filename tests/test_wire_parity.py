"""Wire parity with anaconda-auth 0.15, against the local identity provider.

* The device flow opens ``verification_uri_complete`` in the browser when one is usable: the
  fake ``$BROWSER`` (tests/support/browser_script.py, a real subprocess) visits that URL, and
  with the provider's ``auto_approve`` the visit itself approves the device, so the login only
  completes because the browser was opened. Where no browser is usable (SSH without
  ``$BROWSER``, no display) none is started: fake system browsers on ``PATH`` record any run.
* The API-key mint request carries ``User-Agent``, ``X-Client-Hostname`` (hashed unless
  ``hash_hostname = false``), the configured ``extra_headers`` and anaconda-anon-usage's client
  token as ``X-AAU-CLIENT``, as 0.15 sent them.
"""

from __future__ import annotations

import socket
import stat
import sys
import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.login import HANG_TIMEOUT, Browser, RecordingUI

from anaconda_auth import __version__
from anaconda_auth.actions import current_token, load_site_config, login
from anaconda_auth.client import BaseClient
from anaconda_auth.http.hostname import client_hostname, hash_hostname

pytestmark = pytest.mark.usefixtures("fresh_discovery")


def _header(request: Any, name: str) -> str | None:
    """A recorded request's header, by case-insensitive name."""
    found = [v for k, v in request.headers.items() if k.lower() == name.lower()]
    assert len(found) <= 1, found
    return found[0] if found else None


# -- the device flow opens the browser --------------------------------------------------------


def test_device_flow_opens_verification_uri_complete(
    anaconda_idp: Any, fake_browser: Browser
) -> None:
    # Only the browser's visit approves the code: no device_auto_approve, no approving thread.
    anaconda_idp.settings.device_interval = 1
    assert not anaconda_idp.settings.device_auto_approve
    ui = RecordingUI()
    login(device=True, ui=ui)

    ((verification_uri, user_code, complete),) = ui.device_codes  # URL and code still shown
    assert verification_uri == f"{anaconda_idp.url}/device"
    assert complete and user_code in complete
    assert not ui.authorize_urls
    assert current_token().api_key

    fake_browser.runs.wait_idle(1)
    hops = fake_browser.hops()
    assert [hop["url"] for hop in hops] == [complete]  # exactly verification_uri_complete
    assert hops[0]["status"] == 200
    assert "Device connected" in hops[0]["body"]


def test_device_flow_shows_the_code_when_the_browser_fails(
    anaconda_idp: Any, fake_browser: Browser
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    fake_browser.mode("fail")  # the $BROWSER command exits 1 without opening anything
    ui = RecordingUI()
    login(device=True, ui=ui)
    assert ui.device_codes and current_token().api_key
    fake_browser.runs.wait_idle(1)
    assert fake_browser.hops() == []


# Python's webbrowser counts a background browser as opened only while it still runs, and tries
# the next one (``gio open -- URL``) when it has already exited: stay alive like a real one.
FAKE_SYSTEM_BROWSER = """#!/bin/sh
printf '%s\\n' "$1" >> "$WIRE_BROWSER_LOG"
exec /bin/sleep 3
"""


@pytest.fixture
def system_browsers(login_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``PATH`` holds only fake system browsers (xdg-open, firefox, www-browser, ...), each
    appending the URL it gets to the returned log; Python's ``webbrowser`` looks them up anew."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("xdg-open", "gio", "firefox", "chromium", "www-browser", "lynx", "w3m"):
        script = bin_dir / name
        script.write_text(FAKE_SYSTEM_BROWSER)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "system-browser.log"
    monkeypatch.setenv("WIRE_BROWSER_LOG", str(log))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("TERM", "xterm")
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    # webbrowser finds the installed browsers once per process; have it look again.
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    return log


def _opened(log: Path, count: int) -> list[str]:
    deadline = time.monotonic() + HANG_TIMEOUT
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no browser run recorded in {log}")


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="X11/console browser lookup")
def test_no_browser_is_started_when_none_is_usable(
    anaconda_idp: Any, system_browsers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True

    # SSH session (even with X forwarding) and no $BROWSER: nothing is started.
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    ui = RecordingUI()
    login(device=True, ui=ui)
    assert ui.device_codes and current_token().api_key

    # No graphical display at all: nothing is started either.
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("SSH_CONNECTION")
    ui = RecordingUI()
    login(force=True, device=True, ui=ui)
    assert ui.device_codes
    assert not system_browsers.exists()

    # The same fake browsers, a display and no SSH: the system browser opens the page, so the
    # two logins above would have been seen.
    monkeypatch.setenv("DISPLAY", ":0")
    ui = RecordingUI()
    login(force=True, device=True, ui=ui)
    ((_, _, complete),) = ui.device_codes
    assert _opened(system_browsers, 1) == [complete]


# -- the API-key request's headers --------------------------------------------------------------


def test_api_key_request_carries_the_client_headers(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    monkeypatch.setenv(
        "ANACONDA_AUTH_EXTRA_HEADERS",
        '{"X-Extra": "extra-value", "User-Agent": "not-this", "X-Client-Hostname": "nor-this"}',
    )
    login(device=True, ui=RecordingUI())

    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "User-Agent") == f"anaconda-auth/{__version__}"
    hostname = _header(mint, "X-Client-Hostname")
    assert hostname == client_hostname(True) == hash_hostname(_plain_hostname())
    assert hostname != _plain_hostname()
    assert _header(mint, "X-Extra") == "extra-value"
    assert (_header(mint, "Authorization") or "").startswith("Bearer ")

    # the same values as every BaseClient request
    client = BaseClient(site=load_site_config())
    for name in ("User-Agent", "X-Client-Hostname", "X-Extra"):
        assert _header(mint, name) == client.headers[name], name
    client.close()


def _plain_hostname() -> str:
    name = socket.gethostname()
    return name[: -len(".local")] if name.endswith(".local") else name


def test_api_key_request_sends_the_plain_hostname_when_asked(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    monkeypatch.setenv("ANACONDA_AUTH_HASH_HOSTNAME", "false")
    login(device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-Client-Hostname") == client_hostname(False)


ANON_USAGE_TOKENS = """
import os


def token_string():
    if os.environ.get("WIRE_AAU_FAIL"):
        raise RuntimeError("anon-usage is broken")
    return "aau/0.7.1 c/client-token s/session-token"
"""


@pytest.fixture
def anon_usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An ``anaconda_anon_usage`` package on ``sys.path`` whose ``tokens.token_string()``
    returns a fixed client token (anaconda-anon-usage itself is not a test dependency)."""
    package = tmp_path / "site" / "anaconda_anon_usage"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tokens.py").write_text(ANON_USAGE_TOKENS)
    for name in ("anaconda_anon_usage", "anaconda_anon_usage.tokens"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(package.parent))
    yield
    for name in ("anaconda_anon_usage", "anaconda_anon_usage.tokens"):
        sys.modules.pop(name, None)


def test_api_key_request_carries_the_aau_client_token(
    anaconda_idp: Any, login_home: Path, anon_usage: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    anaconda_idp.settings.device_auto_approve = True
    login(device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-AAU-CLIENT") == "aau/0.7.1 c/client-token s/session-token"

    # a failing anaconda-anon-usage never stops the login: the header is left out
    monkeypatch.setenv("WIRE_AAU_FAIL", "1")
    anaconda_idp.clear_requests()
    login(force=True, device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-AAU-CLIENT") is None
    assert current_token().api_key


def test_api_key_request_has_no_aau_header_without_anon_usage(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("anaconda_anon_usage", "anaconda_anon_usage.tokens"):
        monkeypatch.setitem(sys.modules, name, None)  # the import fails
    anaconda_idp.settings.device_auto_approve = True
    login(device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-AAU-CLIENT") is None


def test_the_aau_header_comes_from_the_sites_aau_token_property(
    anaconda_idp: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.15's tests (and code written for it) patch ``AnacondaAuthSite.aau_token`` on the
    class: the mint request's ``X-AAU-CLIENT`` follows the property, whatever is installed."""
    from anaconda_auth.config import AnacondaAuthSite

    for name in ("anaconda_anon_usage", "anaconda_anon_usage.tokens"):
        monkeypatch.setitem(sys.modules, name, None)  # anaconda-anon-usage is not installed
    monkeypatch.setattr(AnacondaAuthSite, "aau_token", "patched-client-token")
    anaconda_idp.settings.device_auto_approve = True
    login(device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-AAU-CLIENT") == "patched-client-token"

    monkeypatch.setattr(AnacondaAuthSite, "aau_token", None)
    anaconda_idp.clear_requests()
    login(force=True, device=True, ui=RecordingUI())
    (mint,) = anaconda_idp.requests_to("api_keys")
    assert _header(mint, "X-AAU-CLIENT") is None


def test_aau_token_property_reads_anaconda_anon_usage(
    anon_usage: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSite

    assert AnacondaAuthSite().aau_token == "aau/0.7.1 c/client-token s/session-token"
    assert AnacondaAuthConfig().aau_token == "aau/0.7.1 c/client-token s/session-token"
    monkeypatch.setenv("WIRE_AAU_FAIL", "1")
    assert AnacondaAuthSite().aau_token is None  # its failure is never ours


def test_aau_token_is_none_without_anaconda_anon_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    from anaconda_auth.config import AnacondaAuthSite

    for name in ("anaconda_anon_usage", "anaconda_anon_usage.tokens"):
        monkeypatch.setitem(sys.modules, name, None)
    assert AnacondaAuthSite().aau_token is None
