"""Side by side with the real anaconda-auth 0.15.3 (installed in its own venv), same HOME.

0.15's commands never crash on the file this package writes (they may say "not logged in"); a
login 0.15 saves afterwards is read here and encrypted on the next write; nothing either side
stored is lost. 0.15 runs with its defaults: its ``AnacondaKeyring`` is keyring's default
there, so other programs' passwords (pip, twine) land in the same file too.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.testing.ca import create_tls_files
from anaconda_auth.storage_backends.anaconda_keyring import ENVELOPE_SERVICE, clear_caches
from support.https_server import EchoServer
from support.processes import REF_PYTHON, run_python
from support.tokens import jwt

from anaconda_auth.exceptions import TokenNotFoundError
from anaconda_auth.token import KEYRING_NAME, TokenInfo

pytestmark = pytest.mark.skipif(
    REF_PYTHON is None,
    reason="the published anaconda-auth 0.15.3 is not installed: set ANACONDA_AUTH_REF_VENV to "
    "its venv (dev/test.sh creates it in ~/.cache/anaconda-auth/ref-0.15.3)",
)

PYPI = "https://upload.pypi.org/legacy/"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()


@pytest.fixture
def keyring_file(isolated_home: Path) -> Path:
    return isolated_home / ".anaconda" / "keyring"


def _ref_env(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("ANACONDA_", "CONDA", "PYTHON"))
    }
    env.update(HOME=str(home), ANACONDA_CLI_DISABLE_TELEMETRY="1", NO_COLOR="1")
    return env


def ref_python(home: Path, code: str, *args: str) -> str:
    """Run ``code`` with 0.15.3's interpreter; its stdout (it must succeed)."""
    assert REF_PYTHON is not None
    out = run_python(code, _ref_env(home), args=args, python=REF_PYTHON, cwd=home, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def ref_save(home: Path, domain: str, api_key: str) -> None:
    """What 0.15's `anaconda login` stores at its end."""
    ref_python(
        home,
        """
        import sys
        from anaconda_auth.token import TokenInfo
        TokenInfo(domain=sys.argv[1], api_key=sys.argv[2], username="from-0.15").save()
        """,
        domain,
        api_key,
    )


def ref_api_key(home: Path, domain: str) -> tuple[int, str, str]:
    """0.15's `anaconda auth api-key` for ``domain``: exit code, stdout, stderr."""
    assert REF_PYTHON is not None
    out = subprocess.run(
        [str(REF_PYTHON.parent / "anaconda"), "auth", "api-key"],
        env={**_ref_env(home), "ANACONDA_AUTH_DOMAIN": domain},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    return out.returncode, out.stdout, out.stderr


def assert_not_logged_in_for_015(home: Path, domain: str) -> None:
    code, stdout, stderr = ref_api_key(home, domain)
    assert code == 1, stdout + stderr
    assert "TokenNotFoundError: Login is required to complete this action." in stdout + stderr


def test_0_15_and_this_package_share_one_keyring(isolated_home: Path, keyring_file: Path) -> None:
    home = isolated_home
    ours = jwt(sub="ours")
    TokenInfo(domain="anaconda.com", api_key=ours, username="me").save()
    TokenInfo(domain="ours-only.example", api_key="ours-only", username="me").save()

    # 0.15 parses the file and sees no login (no UnicodeDecodeError); its logout is a no-op.
    assert_not_logged_in_for_015(home, "anaconda.com")
    ref_python(home, "from anaconda_auth.actions import logout; logout()")
    assert TokenInfo.load("anaconda.com").api_key == ours

    # 0.15 logs in to another domain and to the same one; twine (through 0.15's keyring
    # backend, keyring's default there) stores a password.
    theirs = jwt(sub="theirs")
    theirs_same = jwt(sub="theirs-same-domain")
    ref_save(home, "theirs.example", theirs)
    ref_save(home, "anaconda.com", theirs_same)
    ref_python(
        home,
        "import sys, anaconda_auth.token, keyring; keyring.set_password(*sys.argv[1:])",
        PYPI,
        "__token__",
        "pypi-secret",
    )
    code, stdout, _ = ref_api_key(home, "anaconda.com")
    assert (code, stdout.strip()) == (0, theirs_same)
    raw = json.loads(keyring_file.read_bytes())
    assert ENVELOPE_SERVICE in raw  # 0.15 kept our encrypted keyring when it rewrote the file

    # We read 0.15's logins (the newer one wins for anaconda.com), and ours.
    assert TokenInfo.load("theirs.example").api_key == theirs
    assert TokenInfo.load("anaconda.com").api_key == theirs_same
    assert TokenInfo.load("ours-only.example").api_key == "ours-only"

    # Our next write encrypts 0.15's logins: 0.15 now says "not logged in" (no crash), and
    # both sides' logins are still here; twine's password stays where 0.15 reads it.
    TokenInfo(domain="later.example", api_key="later").save()
    raw = json.loads(keyring_file.read_bytes())
    assert raw.keys() == {ENVELOPE_SERVICE, PYPI}
    assert theirs.encode() not in keyring_file.read_bytes()
    assert_not_logged_in_for_015(home, "theirs.example")
    pypi = ref_python(
        home,
        "import sys, anaconda_auth.token, keyring; print(keyring.get_password(*sys.argv[1:]))",
        PYPI,
        "__token__",
    )
    assert pypi.strip() == "pypi-secret"
    clear_caches()
    for domain, key in (
        ("theirs.example", theirs),
        ("anaconda.com", theirs_same),
        ("ours-only.example", "ours-only"),
        ("later.example", "later"),
    ):
        assert TokenInfo.load(domain).api_key == key, domain

    # 0.15 logs in again: its new login wins here too, and its logout removes only its copy.
    again = jwt(sub="again")
    ref_save(home, "anaconda.com", again)
    assert TokenInfo.load("anaconda.com").api_key == again
    assert ref_api_key(home, "anaconda.com")[:2] == (0, again + "\n")
    ref_python(home, "from anaconda_auth.actions import logout; logout()")
    assert_not_logged_in_for_015(home, "anaconda.com")
    assert TokenInfo.load("anaconda.com").api_key == theirs_same  # encrypted before: kept
    assert TokenInfo.load("ours-only.example").api_key == "ours-only"

    # Our logout of a domain removes 0.15's copy as well.
    ref_save(home, "theirs.example", jwt(sub="theirs-2"))
    TokenInfo.load("theirs.example").delete()
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("theirs.example")
    assert_not_logged_in_for_015(home, "theirs.example")


def test_a_file_0_15_wrote_first_is_upgraded_and_0_15_keeps_working(
    isolated_home: Path, keyring_file: Path
) -> None:
    home = isolated_home
    first = jwt(sub="first")
    ref_save(home, "anaconda.com", first)
    ref_save(home, "anaconda.cloud", "legacy-domain-key")
    ref_python(
        home,
        "import sys, anaconda_auth.token, keyring; keyring.set_password(*sys.argv[1:])",
        PYPI,
        "alice",
        "alice-secret",
    )
    plain = json.loads(keyring_file.read_bytes())
    assert ENVELOPE_SERVICE not in plain and plain[KEYRING_NAME].keys() == {
        "anaconda.com",
        "anaconda.cloud",
    }

    assert TokenInfo.load("anaconda.com").api_key == first
    TokenInfo(domain="ours.example", api_key="ours").save()
    doc = json.loads(keyring_file.read_bytes())
    assert doc == {
        ENVELOPE_SERVICE: doc[ENVELOPE_SERVICE],
        PYPI: {"alice": "alice-secret"},
    }
    # 0.15 parses the upgraded file: not logged in, but its own keyring use goes on, and a
    # save of its adds to the file without dropping ours.
    assert_not_logged_in_for_015(home, "anaconda.com")
    ref_save(home, "new-from-015.example", "k015")
    assert json.loads(keyring_file.read_bytes())[ENVELOPE_SERVICE] == doc[ENVELOPE_SERVICE]
    for domain, key in (
        ("anaconda.com", first),
        ("anaconda.cloud", "legacy-domain-key"),
        ("ours.example", "ours"),
        ("new-from-015.example", "k015"),
    ):
        stored = TokenInfo.load(domain)
        assert stored.api_key == key, domain
        assert json.loads(base64.b64decode(stored._encode()))["domain"] == domain


@pytest.fixture
def account_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A loopback HTTPS server whose /api/account names the user of the bearer token."""
    pki = create_tls_files(tmp_path_factory.mktemp("pki"))

    def account(request: Any) -> tuple[int, dict[str, str], Any]:
        auth = {k.lower(): v for k, v in request.headers.items()}.get("authorization")
        if auth is None:
            return 401, {}, {"error": {"code": "auth_required"}}
        return 200, {}, {"user": {"id": auth.removeprefix("Bearer ")}}

    with EchoServer(pki) as server:
        server.routes["/api/account"] = account
        server.ca_path = pki.ca_path
        yield server


def ref_whoami(home: Path, server: Any) -> str:
    """0.15's `anaconda auth whoami` against ``server``: its stdout (it must succeed)."""
    assert REF_PYTHON is not None
    env = {
        **_ref_env(home),
        "ANACONDA_AUTH_DOMAIN": server.netloc,
        "ANACONDA_AUTH_SSL_VERIFY": str(server.ca_path),
    }
    out = subprocess.run(
        [str(REF_PYTHON.parent / "anaconda"), "auth", "whoami"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


def test_0_15_whoami_on_our_file(isolated_home: Path, account_server: Any) -> None:
    home = isolated_home
    domain = account_server.netloc
    ours, theirs = jwt(sub="ours"), jwt(sub="theirs")
    TokenInfo(domain=domain, api_key=ours, username="me").save()
    assert '"id": null' in ref_whoami(home, account_server)  # 0.15 found no login: anonymous

    ref_save(home, domain, theirs)
    assert f'"id": "{theirs}"' in ref_whoami(home, account_server)
    assert TokenInfo.load(domain).api_key == theirs

    TokenInfo(domain="other.example", api_key="k").save()  # encrypts 0.15's login
    assert '"id": null' in ref_whoami(home, account_server)
    assert TokenInfo.load(domain).api_key == theirs
