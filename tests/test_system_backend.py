"""The ``system`` backend against a real Secret Service: GNOME Keyring on a private D-Bus session.

Each keyring runs in its own ``dbus-daemon --session`` started here, with its own HOME, so the
tests never touch the developer's keyring. Needs the Debian packages dbus, gnome-keyring and
libsecret-tools (dev/test.sh installs them).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.storage_backends import system
from support.processes import REF_PYTHON, run_python
from support.secret_service import KeyringSession, start_session
from support.tokens import jwt

from anaconda_auth.exceptions import StorageUnavailableError
from anaconda_auth.token import KEYRING_NAME, TokenInfo

pytestmark = pytest.mark.skipif(
    not (shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus-daemon and gnome-keyring-daemon (apt install dbus gnome-keyring)",
)


@pytest.fixture(scope="session")
def keyring_session() -> Iterator[KeyringSession]:
    """GNOME Keyring with an unlocked default ("login") keyring, for the whole test session."""
    root = Path(tempfile.mkdtemp(prefix="anaconda-auth-gk-"))
    session = start_session(root)
    try:
        session.start_keyring(unlock=True)
        yield session
    finally:
        session.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def on_keyring(keyring_session: KeyringSession, monkeypatch: pytest.MonkeyPatch) -> KeyringSession:
    """This test process talks to the private keyring; tokens go to ``system``."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", keyring_session.address)
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "system")
    return keyring_session


def secret_tool_lookup(session: KeyringSession, domain: str) -> str | None:
    """Read an entry with libsecret's command-line tool: an independent Secret Service client."""
    out = subprocess.run(
        ["secret-tool", "lookup", "service", KEYRING_NAME, "username", domain],
        env=session.env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    return out.stdout if out.returncode == 0 else None


def _domain() -> str:
    return f"d{uuid.uuid4().hex[:12]}.example.test"


# -- the backend against a real Secret Service ----------------------------------------------


def test_set_get_delete(on_keyring: KeyringSession) -> None:
    backend = system.SystemKeyringBackend()
    assert backend.is_available() == (True, "")
    assert backend.keyring_name == "keyring.backends.SecretService.Keyring"
    domain = _domain()
    assert backend.get_password(KEYRING_NAME, domain) is None
    backend.set_password(KEYRING_NAME, domain, "value-1")
    assert backend.get_password(KEYRING_NAME, domain) == "value-1"
    assert secret_tool_lookup(on_keyring, domain) == "value-1"  # really in the Secret Service
    backend.set_password(KEYRING_NAME, domain, "value-2")
    assert backend.get_password(KEYRING_NAME, domain) == "value-2"
    backend.delete_password(KEYRING_NAME, domain)
    assert backend.get_password(KEYRING_NAME, domain) is None
    assert secret_tool_lookup(on_keyring, domain) is None
    backend.delete_password(KEYRING_NAME, domain)  # deleting twice is fine


def test_token_info_round_trip(on_keyring: KeyringSession) -> None:
    domain = _domain()
    key = jwt(time.time() + 3600)
    info = TokenInfo(domain=domain, api_key=key, username="ann")
    info.set_repo_token("org", "rt")
    info.save()
    assert info.source == "system"
    stored = secret_tool_lookup(on_keyring, domain)
    assert stored is not None
    assert json.loads(base64.b64decode(stored))["api_key"] == key
    loaded = TokenInfo.load(domain)
    assert (loaded.api_key, loaded.username, loaded.source) == (key, "ann", "system")
    assert loaded.get_repo_token("org") == "rt"
    loaded.delete()
    assert secret_tool_lookup(on_keyring, domain) is None


@pytest.mark.skipif(REF_PYTHON is None, reason="anaconda-auth 0.15.3 venv not found")
def test_token_written_by_anaconda_auth_015_is_read(
    on_keyring: KeyringSession, isolated_home: Path
) -> None:
    domain = _domain()
    key = jwt(time.time() + 3600)
    env = {
        **on_keyring.env,
        "HOME": str(isolated_home),
        "ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE": "system",
        "PYTHONPATH": "",
    }
    script = """
        import sys
        from anaconda_auth.token import TokenInfo
        info = TokenInfo(domain=sys.argv[1], api_key=sys.argv[2], username="ann")
        info.set_repo_token("org", "repo-token")
        info.save()
        """
    assert REF_PYTHON is not None
    out = run_python(script, env, args=[domain, key], python=REF_PYTHON)
    assert out.returncode == 0, out.stderr
    assert secret_tool_lookup(on_keyring, domain) is not None  # 0.15.3 used the Secret Service

    loaded = TokenInfo.load(domain)
    assert (loaded.api_key, loaded.username, loaded.source) == (key, "ann", "system")
    assert loaded.get_repo_token("org") == "repo-token"

    # and the other way: 0.15.3 reads what we write
    loaded.set_repo_token("org2", "second")
    loaded.save()
    read_back = """
        import sys
        from anaconda_auth.token import TokenInfo
        info = TokenInfo.load(sys.argv[1])
        print(info.api_key == sys.argv[2], info.get_repo_token("org2"))
        """
    out = run_python(read_back, env, args=[domain, key], python=REF_PYTHON)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "second"]


def test_keyring_global_is_never_changed(keyring_session: KeyringSession) -> None:
    """pip and twine in the same process keep what keyring would give them anyway."""
    env = {
        **keyring_session.env,
        "ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE": "system",
        "HOME": tempfile.mkdtemp(dir=keyring_session.root),
    }
    without = run_python(
        """
        import keyring
        kr = keyring.get_keyring()
        print(type(kr).__module__ + "." + type(kr).__qualname__)
        """,
        env,
    )
    assert without.returncode == 0, without.stderr
    expected = without.stdout.strip()

    used_before = run_python(
        """
        import keyring, keyring.core, keyring.backend
        import anaconda_auth
        from anaconda_auth.token import TokenInfo
        from anaconda_auth.storage_backends.system import BACKEND
        assert keyring.core._keyring_backend is None, "importing anaconda_auth set keyring"
        TokenInfo(domain="global.example.test", api_key="k").save()
        assert TokenInfo.load("global.example.test").source == "system"
        assert BACKEND.is_available()[0]
        assert keyring.core._keyring_backend is None, "using the system backend set keyring"
        ours = [c for c in keyring.backend.KeyringBackend._classes
                if c.__module__.startswith("anaconda_auth")]
        assert not ours, ours
        kr = keyring.get_keyring()
        print(type(kr).__module__ + "." + type(kr).__qualname__)
        """,
        env,
    )
    assert used_before.returncode == 0, used_before.stderr
    assert used_before.stdout.strip() == expected

    chosen_by_app = run_python(
        """
        import keyring
        from keyring.backends import null
        keyring.set_keyring(null.Keyring())        # what the application chose
        before = keyring.get_keyring()
        from anaconda_auth.token import TokenInfo
        TokenInfo(domain="global2.example.test", api_key="k").save()
        assert TokenInfo.load("global2.example.test").api_key == "k"
        assert keyring.get_keyring() is before
        print("ok")
        """,
        env,
    )
    assert chosen_by_app.returncode == 0, chosen_by_app.stderr
    assert chosen_by_app.stdout.strip() == "ok"


def test_read_answered_earlier_never_imports_keyring(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANACONDA_")}
    env.update(HOME=str(tmp_path), ANACONDA_AUTH_API_KEY="from-the-environment")
    out = run_python(
        """
        import sys
        from anaconda_auth.token import TokenInfo
        info = TokenInfo.load()
        assert info.source == "environment", info.source
        print("keyring" in sys.modules, "secretstorage" in sys.modules)
        """,
        env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# -- unavailable keyrings: a reason, quickly, never a hang or a prompt ----------------------

PROBE = """
import json, sys, time
from anaconda_auth.storage_backends import system
from anaconda_auth.storage_backends.system import BACKEND
from anaconda_auth.exceptions import StorageUnavailableError, TokenNotFoundError
from anaconda_auth.token import TokenInfo
resolutions = []
resolve = system._resolve
system._resolve = lambda: (resolutions.append(1), resolve())[1]
t = time.monotonic()
ok, reason = BACKEND.is_available()
first = time.monotonic() - t
again = BACKEND.is_available()
lookups = len(resolutions)
errors = {}
for name, call in [("save", lambda: TokenInfo(domain="x.test", api_key="k").save()),
                   ("load", lambda: TokenInfo.load("x.test"))]:
    try:
        call()
        errors[name] = None
    except (StorageUnavailableError, TokenNotFoundError) as exc:
        errors[name] = type(exc).__name__ + ": " + str(exc)
print(json.dumps({"ok": ok, "reason": reason, "first": first, "lookups": lookups,
                  "again": list(again), "errors": errors}))
"""


def probe(env: dict[str, str]) -> dict[str, Any]:
    env = {**env, "ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE": "system"}
    start = time.monotonic()
    out = run_python(PROBE, env, timeout=60)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    result["wall"] = time.monotonic() - start
    return result


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANACONDA_", "DBUS_", "XDG_"))}
    env["HOME"] = str(home)
    return env


def _check_unavailable(result: dict[str, Any], *words: str) -> None:
    assert result["ok"] is False
    for word in words:
        assert word in result["reason"], result["reason"]
    assert result["again"] == [False, result["reason"]]
    assert result["lookups"] == 1  # cached for the process
    for name in ("save", "load"):  # never "not logged in": the reason, as an error
        error = result["errors"][name]
        assert error is not None and error.startswith("StorageUnavailableError"), error
        assert "'system' is not available" in error


def test_no_dbus_session(tmp_path: Path) -> None:
    result = probe(_base_env(tmp_path))
    _check_unavailable(result, "D-Bus", "DBUS_SESSION_BUS_ADDRESS", "anaconda-keyring")
    assert result["first"] < 3


def test_dead_dbus_address(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/nothing"}
    result = probe(env)
    _check_unavailable(result, "anaconda-keyring")
    assert result["first"] < 3


def test_bus_that_never_answers_times_out(tmp_path: Path) -> None:
    path = str(tmp_path / "silent-bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)  # accepts connections (in the backlog) but never says a word
    try:
        env = {
            **_base_env(tmp_path),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={path}",
            "ANACONDA_AUTH_KEYRING_TIMEOUT": "1",
        }
        result = probe(env)
    finally:
        server.close()
    _check_unavailable(result, "did not answer within 1 s", "ANACONDA_AUTH_KEYRING_TIMEOUT")
    assert 0.9 < result["first"] < 3
    assert result["wall"] < 20


def test_locked_keyring_is_unavailable_without_prompting(tmp_path: Path) -> None:
    session = start_session(tmp_path / "locked")
    try:
        session.start_keyring(unlock=True)  # creates the "login" keyring with a password
        session.stop_keyring()
        session.start_keyring(unlock=False)  # the same keyring, now locked
        result = probe({**session.env, "HOME": str(tmp_path / "home")})
    finally:
        session.stop()
    _check_unavailable(result, "locked", "without a terminal")
    assert result["first"] < 3


def test_secret_service_without_a_default_keyring(tmp_path: Path) -> None:
    # D-Bus starts gnome-keyring on demand; it has no keyring, and making one needs a prompt
    session = start_session(tmp_path / "empty")
    try:
        result = probe({**session.env, "HOME": str(tmp_path / "home")})
    finally:
        session.stop()
    _check_unavailable(result, "no default keyring")
    assert result["first"] < 5


def test_unavailable_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    backend = system.SystemKeyringBackend()
    ok, reason = backend.is_available()
    assert not ok and "D-Bus" in reason
    with pytest.raises(StorageUnavailableError, match="D-Bus"):
        backend.get_password(KEYRING_NAME, "x.test")


# -- settings ------------------------------------------------------------------------------


class _Tty:
    def isatty(self) -> bool:
        return True


def test_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert not system.is_interactive()
    assert system.keyring_timeout() == system.DEFAULT_TIMEOUT == 5
    monkeypatch.setattr(sys, "stdin", _Tty())
    assert system.is_interactive()
    assert system.keyring_timeout() == system.INTERACTIVE_TIMEOUT
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_TIMEOUT", "0.5")
    assert system.keyring_timeout() == 0.5
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_TIMEOUT", "soon")
    assert system.keyring_timeout() == system.INTERACTIVE_TIMEOUT


def test_run_with_timeout() -> None:
    assert system.run_with_timeout(lambda: 42, 1, "answering") == 42
    with pytest.raises(ZeroDivisionError):
        system.run_with_timeout(lambda: 1 / 0, 1, "dividing")
    release, finished = threading.Event(), threading.Event()

    def sleeping() -> None:
        release.wait(60)
        finished.set()

    with pytest.raises(system.KeyringTimeout, match="within 0.2 s while sleeping"):
        system.run_with_timeout(sleeping, 0.2, "sleeping")
    assert not finished.is_set()  # it gave up without waiting for the call
    release.set()


def test_keyring_settings_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    ok, reason = system.SystemKeyringBackend().is_available()
    assert not ok and "disabled" in reason and "keyring.backends.null.Keyring" in reason
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")
    ok, reason = system.SystemKeyringBackend().is_available()
    assert not ok and "PYTHON_KEYRING_BACKEND" in reason and "no_such_module" in reason
