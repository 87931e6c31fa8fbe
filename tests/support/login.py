"""Fixtures and helpers of the login tests (a pytest plugin: tests/conftest.py loads it).

- ``fresh_discovery``: forget cached discovery documents before and after the test (modules
  that inject discovery faults use it for every test: ``pytest.mark.usefixtures``);
- ``login_home``: the provider's home (``anaconda_auth_home``) with any free loopback port for
  the redirect server, and no ``$BROWSER``/SSH variables of the developer's session;
- ``fake_browser``: ``$BROWSER`` is ``browser_script.py`` run as a real subprocess, logging
  its hops; the provider approves logins at once. Each run of the script reports its start and
  its exit to the test (:class:`BrowserRuns`), so the hops are read once the browser is done,
  never after a guessed delay.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
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


#: Only guards against a hang: how long to wait for the fake browser to finish.
HANG_TIMEOUT = 120.0


class BrowserRuns:
    """Counts the runs of the fake browser, which report to a loopback socket.

    Each run connects when it starts and waits for one byte back before it opens any URL, so a
    run that made a request the login saw is already counted; its connection closes when the
    process exits (also when it crashes).
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._changed = threading.Condition()
        self._started = 0
        self._finished = 0
        self._closing = False
        self._acceptor = threading.Thread(target=self._accept, name="fake-browser-runs")
        self._acceptor.daemon = True
        self._acceptor.start()

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._closing:
                conn.close()
                return
            with self._changed:
                self._started += 1
            threading.Thread(target=self._watch, args=(conn,), daemon=True).start()

    def _watch(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"\n")
                while conn.recv(64):
                    pass
            except OSError:
                pass
        with self._changed:
            self._finished += 1
            self._changed.notify_all()

    def wait_idle(self, runs: int = 0) -> None:
        """Wait until at least ``runs`` runs have started and every started run has exited."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._started >= runs and self._finished == self._started, HANG_TIMEOUT
            )
            started, finished = self._started, self._finished
        if not done:
            raise AssertionError(
                f"the fake browser hangs: {started} runs started, {finished} finished, "
                f"{runs} expected"
            )

    def close(self) -> None:
        self._closing = True
        host, port = self._listener.getsockname()[:2]
        socket.create_connection((host, port), timeout=HANG_TIMEOUT).close()
        self._acceptor.join(HANG_TIMEOUT)
        self._listener.close()


class Browser:
    """Controls the fake ``$BROWSER`` and reads the hops it logged."""

    def __init__(self, log: Path, runs: BrowserRuns, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = log
        self.runs = runs
        self._monkeypatch = monkeypatch

    def mode(self, mode: str) -> None:
        self._monkeypatch.setenv("BROWSER_SCRIPT_MODE", mode)

    def hops(self) -> list[dict[str, Any]]:
        """Every hop logged, once every browser run started so far has exited."""
        return self._read(callbacks_only=False)

    def callback_hops(self) -> list[dict[str, Any]]:
        """The hops to the loopback redirect server, as :meth:`hops`."""
        return self._read(callbacks_only=True)

    def _read(self, callbacks_only: bool) -> list[dict[str, Any]]:
        self.runs.wait_idle()
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        found = [json.loads(line) for line in lines]
        if callbacks_only:
            found = [hop for hop in found if hop["url"].startswith(LOOPBACK)]
        return found


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
) -> Iterator[Browser]:
    """``$BROWSER`` is the fake browser script; the provider approves logins at once."""
    anaconda_idp.settings.auto_approve = True
    log = tmp_path / "browser.jsonl"
    runs = BrowserRuns()
    monkeypatch.setenv("BROWSER", f'"{sys.executable}" "{BROWSER_SCRIPT}" %s')
    monkeypatch.setenv("BROWSER_SCRIPT_CA", str(anaconda_idp.ca_path))
    monkeypatch.setenv("BROWSER_SCRIPT_LOG", str(log))
    monkeypatch.setenv("BROWSER_SCRIPT_NOTIFY", runs.address)
    try:
        yield Browser(log, runs, monkeypatch)
    finally:
        runs.close()
