"""Fixtures and helpers of the login tests (a pytest plugin: tests/conftest.py loads it).

- ``fresh_discovery``: forget cached discovery documents before and after the test (modules
  that inject discovery faults use it for every test: ``pytest.mark.usefixtures``);
- ``login_home``: the provider's home (``anaconda_auth_home``) with any free loopback port for
  the redirect server, and no ``$BROWSER``/SSH variables of the developer's session;
- ``fake_browser``: ``$BROWSER`` is ``browser_script.py`` run as a real subprocess, logging
  its hops; the provider approves logins at once.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: The fake web browser (see its docstring for the modes).
BROWSER_SCRIPT = Path(__file__).with_name("browser_script.py")
#: Where the redirect server listens: the loopback interface.
LOOPBACK = "http://127.0.0.1"


class RecordingUI:
    """A LoginUI that shows nothing and remembers what it was asked to show."""

    def __init__(self) -> None:
        self.authorize_urls: list[str] = []
        self.device_codes: list[tuple[str, str, str | None]] = []
        self.waits: list[str] = []

    def show_authorize_url(self, url: str) -> None:
        self.authorize_urls.append(url)

    def show_device_code(
        self, verification_uri: str, user_code: str, complete_uri: str | None
    ) -> None:
        self.device_codes.append((verification_uri, user_code, complete_uri))

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        self.waits.append(message)
        yield


class Browser:
    """Controls the fake ``$BROWSER`` and reads the hops it logged."""

    def __init__(self, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = log
        self._monkeypatch = monkeypatch

    def mode(self, mode: str) -> None:
        self._monkeypatch.setenv("BROWSER_SCRIPT_MODE", mode)

    def hops(self, wait_for: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
        """Every hop logged so far; first waits (up to ``timeout``) for ``wait_for`` of them."""
        return self._read(wait_for, timeout, callbacks_only=False)

    def callback_hops(self, wait_for: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
        """The hops to the loopback redirect server, as :meth:`hops`."""
        return self._read(wait_for, timeout, callbacks_only=True)

    def _read(self, wait_for: int, timeout: float, callbacks_only: bool) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log.read_text().splitlines() if self.log.exists() else []
            found = [json.loads(line) for line in lines]
            if callbacks_only:
                found = [hop for hop in found if hop["url"].startswith(LOOPBACK)]
            if len(found) >= wait_for or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def fresh_discovery() -> Iterator[None]:
    from anaconda_auth.flows import discovery

    discovery.clear_cache()
    yield
    discovery.clear_cache()


@pytest.fixture
def login_home(anaconda_auth_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The provider's home, with any free loopback port for the redirect server."""
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", "http://127.0.0.1:0/auth/oidc")
    for name in ("BROWSER", "SSH_CONNECTION", "SSH_TTY", "BROWSER_SCRIPT_MODE"):
        monkeypatch.delenv(name, raising=False)
    return anaconda_auth_home


@pytest.fixture
def fake_browser(
    login_home: Path, anaconda_idp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Browser:
    """``$BROWSER`` is the fake browser script; the provider approves logins at once."""
    anaconda_idp.settings.auto_approve = True
    log = tmp_path / "browser.jsonl"
    monkeypatch.setenv("BROWSER", f'"{sys.executable}" "{BROWSER_SCRIPT}" %s')
    monkeypatch.setenv("BROWSER_SCRIPT_CA", str(anaconda_idp.ca_path))
    monkeypatch.setenv("BROWSER_SCRIPT_LOG", str(log))
    return Browser(log, monkeypatch)
