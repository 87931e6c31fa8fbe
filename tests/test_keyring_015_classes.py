"""0.15's keyring backend classes (``token.AnacondaKeyring``, ``token.ConfigKeyring``): they work
when a caller selects them, and never become keyring's process-wide default."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path

import pytest
from anaconda_auth.storage_backends.anaconda_keyring import ENVELOPE_SERVICE, clear_caches
from keyring.errors import PasswordDeleteError, PasswordSetError
from support.processes import modules_loaded_by, run_python

import anaconda_auth.token as token
from anaconda_auth.config import AnacondaAuthConfig
from anaconda_auth.token import KEYRING_NAME, TokenInfo


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()


@pytest.fixture
def keyring_file(isolated_home: Path) -> Path:
    return isolated_home / ".anaconda" / "keyring"


def test_anaconda_keyring_stores_in_the_shared_encrypted_file(keyring_file: Path) -> None:
    backend = token.AnacondaKeyring()
    assert token.AnacondaKeyring.keyring_path == keyring_file
    assert backend.get_password("s", "u") is None
    with pytest.raises(PasswordDeleteError):
        backend.delete_password("s", "u")
    assert not keyring_file.exists()

    backend.set_password("s", "u", "p")
    backend.set_password("s", "u2", "p2")
    assert backend.get_password("s", "u") == "p"
    assert backend.get_password("s", "u3") is None
    raw = keyring_file.read_bytes()
    assert b'"p"' not in raw and b'"p2"' not in raw  # encrypted
    assert json.loads(raw).keys() == {ENVELOPE_SERVICE}  # JSON that 0.15 parses

    backend.delete_password("s", "u")
    assert backend.get_password("s", "u") is None
    with pytest.raises(PasswordDeleteError):
        backend.delete_password("s", "u")
    assert backend.get_password("s", "u2") == "p2"


def test_a_login_set_through_anaconda_keyring_is_read_by_tokeninfo(keyring_file: Path) -> None:
    value = TokenInfo(domain="example.test", api_key="the-key")._encode()
    token.AnacondaKeyring().set_password(KEYRING_NAME, "example.test", value)
    assert TokenInfo.load("example.test").api_key == "the-key"
    TokenInfo(domain="other.test", api_key="other-key").save()
    assert token.AnacondaKeyring().get_password(KEYRING_NAME, "other.test") is not None


def test_anaconda_keyring_follows_keyring_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(tmp_path / "a" / "keyring"))
    backend = token.AnacondaKeyring()
    backend.set_password("s", "u", "in-a")
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(tmp_path / "b" / "keyring"))
    assert backend.keyring_path == tmp_path / "b" / "keyring"
    assert backend.get_password("s", "u") is None
    assert (tmp_path / "a" / "keyring").exists() and not (tmp_path / "b").exists()


def test_an_empty_file_from_0_15_is_an_empty_keyring(keyring_file: Path) -> None:
    keyring_file.parent.mkdir()
    keyring_file.touch()
    backend = token.AnacondaKeyring()
    assert backend.get_password("s", "u") is None
    with pytest.raises(PasswordDeleteError):
        backend.delete_password("s", "u")


def test_viable_when_the_file_can_be_used_and_probing_creates_nothing(
    keyring_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert token.AnacondaKeyring.viable
    assert not keyring_file.parent.exists()  # 0.15 created the directory and the file
    not_a_dir = tmp_path / "anaconda"
    not_a_dir.touch()
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(not_a_dir / "keyring"))
    assert not token.AnacondaKeyring.viable
    assert token.ConfigKeyring.viable  # reads the configuration only


def test_names_are_0_15s() -> None:
    assert token.AnacondaKeyring.name == "token AnacondaKeyring"
    assert token.ConfigKeyring.name == "token ConfigKeyring"
    from anaconda_auth.token import AnacondaKeyring, ConfigKeyring  # the form callers use

    assert issubclass(ConfigKeyring, AnacondaKeyring)


def test_config_keyring_answers_the_configured_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = token.ConfigKeyring()
    domain = AnacondaAuthConfig().domain
    assert backend.get_password(KEYRING_NAME, domain) is None
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "configured-key")
    value = backend.get_password(KEYRING_NAME, domain)
    assert value is not None
    decoded = json.loads(base64.b64decode(value))
    assert decoded["api_key"] == "configured-key" and decoded["domain"] == domain
    assert TokenInfo.model_validate(decoded).api_key == "configured-key"
    assert backend.get_password(KEYRING_NAME, "elsewhere.test") is None
    assert backend.get_password("another service", domain) is None


@pytest.mark.skipif(
    "keyring" not in AnacondaAuthConfig.model_fields,
    reason="the config field `keyring` comes with the 0.15 config-parity work",
)
def test_config_keyring_answers_the_keyring_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING", '{"s": {"u": "p"}}')
    assert token.ConfigKeyring().get_password("s", "u") == "p"
    assert token.ConfigKeyring().get_password("s", "other") is None


def test_config_keyring_is_read_only(keyring_file: Path) -> None:
    with pytest.raises(PasswordSetError):
        token.ConfigKeyring().set_password("s", "u", "p")
    with pytest.raises(PasswordSetError):
        token.ConfigKeyring().delete_password("s", "u")
    assert not keyring_file.exists()


def test_navigator_fallback_is_not_carried_over() -> None:
    with pytest.raises(AttributeError, match="Navigator"):
        token.NavigatorFallback  # type: ignore[attr-defined]  # noqa: B018


def test_importing_token_imports_no_keyring() -> None:
    assert modules_loaded_by(["anaconda_auth.token"], ["keyring"]) == []


# The default keyring of a fresh process with nothing of ours, with ours imported, and with the
# two classes defined and used: always the same one.
_DEFAULT_KEYRING = """
    import sys
    {prepare}
    import keyring, keyring.backend
    from keyring.backends import chainer
    kr = keyring.get_keyring()
    chained = [type(b).__name__ for b in chainer.ChainerBackend.backends]
    ours = sorted(b.name for b in keyring.backend.get_all_keyring()
                  if type(b).__module__.startswith("anaconda_auth"))
    print(type(kr).__module__ + "." + type(kr).__qualname__, chained, ours)
"""


@pytest.mark.parametrize(
    ("prepare", "listed"),
    [
        ("", "[]"),
        ("import anaconda_auth, anaconda_auth.token, anaconda_auth.client", "[]"),
        (
            "import anaconda_auth.token as t\n"
            "t.AnacondaKeyring().set_password('s', 'u', 'p')\n"
            "assert t.ConfigKeyring().get_password('s', 'u') is None",
            "['token AnacondaKeyring', 'token ConfigKeyring']",
        ),
    ],
    ids=["nothing-of-ours", "imported", "classes-defined-and-used"],
)
def test_keyrings_default_is_never_changed(isolated_home: Path, prepare: str, listed: str) -> None:
    out = run_python(_DEFAULT_KEYRING.format(prepare=textwrap.indent(prepare, "    ").strip()))
    assert out.returncode == 0, out.stderr
    chosen, _, rest = out.stdout.strip().partition(" ")
    assert "anaconda_auth" not in chosen
    baseline = run_python(_DEFAULT_KEYRING.format(prepare=""))
    assert baseline.stdout.strip().partition(" ")[0] == chosen
    assert "Anaconda" not in rest.split("] ")[0]  # the chainer leaves them out
    assert rest.endswith(listed)


def test_explicit_selection_through_keyrings_environment_variable(
    isolated_home: Path, keyring_file: Path
) -> None:
    """PYTHON_KEYRING_BACKEND names 0.15's class path: keyring's own calls use the file."""
    env = {"PYTHON_KEYRING_BACKEND": "anaconda_auth.token.AnacondaKeyring"}
    import os

    out = run_python(
        """
        import keyring
        from anaconda_auth.token import TokenInfo
        print(type(keyring.get_keyring()).__name__)
        keyring.set_password("Anaconda Cloud", "example.test",
                             TokenInfo(domain="example.test", api_key="via-keyring")._encode())
        """,
        {**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "AnacondaKeyring"
    assert TokenInfo.load("example.test").api_key == "via-keyring"
    assert json.loads(keyring_file.read_bytes()).keys() == {ENVELOPE_SERVICE}


def test_the_deprecated_import_name_has_them_too() -> None:
    code = """
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from anaconda_cloud_auth.token import AnacondaKeyring, ConfigKeyring
        import anaconda_auth.token
        assert AnacondaKeyring is anaconda_auth.token.AnacondaKeyring
        assert ConfigKeyring is anaconda_auth.token.ConfigKeyring
        try:
            from anaconda_cloud_auth.token import NavigatorFallback
        except ImportError:
            print("NavigatorFallback is not carried over")
        """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "NavigatorFallback is not carried over"
