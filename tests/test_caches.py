"""The performance caches: memoised configuration, remembered token reads, lazy imports.

These check behaviour, never timings: each cache must be used when nothing changed (a spy
counts the work skipped) and must never hide a change (environment, files, plugins, other
processes). Files are dated back with ``os.utime`` so the caches may trust their stamps; a file
changed in the last two seconds is never trusted (see anaconda_auth.freshness).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.storage_backends import anaconda_keyring
from support import processes
from support.tokens import jwt as fake_jwt

import anaconda_auth.config.model as config_module
from anaconda_auth.config import AnacondaAuthConfig
from anaconda_auth.config import memo as _config_cache
from anaconda_auth.exceptions import ConfigError, StorageError, TokenNotFoundError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.manager import get_plugin_manager
from anaconda_auth.plugin_types import ConfigSource
from anaconda_auth.storage import access as token_storage
from anaconda_auth.token import TokenInfo


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    _config_cache.clear()
    anaconda_keyring.clear_caches()
    yield
    _config_cache.clear()
    anaconda_keyring.clear_caches()


def make_old(*paths: Path) -> None:
    """Date files (and the keyring's key file, if any) 10 s back: their stamps are trusted."""
    old = time.time_ns() - 10_000_000_000
    for p in paths:
        for q in (p, p.with_name(p.name + ".key")):
            if q.exists():
                os.utime(q, ns=(old, old))


@pytest.fixture
def resolutions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full resolutions of the configuration (what the memo saves)."""
    # The first resolution in a process may import conda (the conda source), which sets
    # CONDA_ROOT: a changed environment, so that one result is not reused. Done before counting.
    AnacondaAuthConfig()
    _config_cache.clear()
    calls: list[int] = []
    real = config_module.resolve

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(config_module, "resolve", counting)
    return calls


def write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    make_old(path)
    return path


# ---------------------------------------------------------------------------------------------
# The configuration memo


def test_an_unchanged_configuration_is_resolved_once(resolutions: list[int]) -> None:
    first = AnacondaAuthConfig()
    second = AnacondaAuthConfig()
    assert len(resolutions) == 1
    assert first == second and first is not second


def test_an_environment_change_is_seen_at_once(
    resolutions: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert AnacondaAuthConfig().domain == "anaconda.com"
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "env.example")
    assert AnacondaAuthConfig().domain == "env.example"
    monkeypatch.setenv("HOME", str(Path.home() / "elsewhere"))  # not an ANACONDA_ variable
    assert AnacondaAuthConfig().keyring_path == Path.home() / ".anaconda" / "keyring"
    monkeypatch.delenv("ANACONDA_AUTH_DOMAIN")
    assert AnacondaAuthConfig().domain == "anaconda.com"
    assert len(resolutions) == 4


def test_a_rewritten_config_toml_is_seen_even_with_the_same_size_and_mtime(
    isolated_home: Path, resolutions: list[int]
) -> None:
    path = write_toml(
        isolated_home / ".anaconda" / "config.toml", '[plugin.auth]\ndomain = "a.test"'
    )
    mtime = path.stat().st_mtime_ns
    assert AnacondaAuthConfig().domain == "a.test"
    assert AnacondaAuthConfig().domain == "a.test"
    assert len(resolutions) == 1
    path.write_text('[plugin.auth]\ndomain = "b.test"')  # same size
    os.utime(path, ns=(mtime, mtime))  # same mtime: only the ctime (and maybe inode) differ
    assert AnacondaAuthConfig().domain == "b.test"


def test_a_file_changed_in_the_last_seconds_is_not_trusted(
    isolated_home: Path, resolutions: list[int]
) -> None:
    path = isolated_home / ".anaconda" / "config.toml"
    path.parent.mkdir()
    path.write_text('[plugin.auth]\ndomain = "fresh.test"')
    for _ in range(3):
        assert AnacondaAuthConfig().domain == "fresh.test"
    assert len(resolutions) == 3


def test_dotenv_follows_the_working_directory(
    tmp_path: Path, resolutions: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        write_toml(tmp_path / name / ".env", f"ANACONDA_AUTH_DOMAIN={name}.test\n")
    for name in ("one", "two", "one"):
        monkeypatch.chdir(tmp_path / name)
        assert AnacondaAuthConfig().domain == f"{name}.test"
        assert AnacondaAuthConfig().domain == f"{name}.test"
    assert len(resolutions) == 3


def test_secrets_directory_changes_are_seen(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = isolated_home / "secrets"
    secrets.mkdir()
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(secrets))
    make_old(secrets)
    assert AnacondaAuthConfig().domain == "anaconda.com"
    write_toml(secrets / "ANACONDA_AUTH_DOMAIN", "one.test")  # a new file
    make_old(secrets)
    assert AnacondaAuthConfig().domain == "one.test"
    mtime = (secrets / "ANACONDA_AUTH_DOMAIN").stat().st_mtime_ns
    (secrets / "ANACONDA_AUTH_DOMAIN").write_text("two.test")  # in place, same size and mtime
    os.utime(secrets / "ANACONDA_AUTH_DOMAIN", ns=(mtime, mtime))
    assert AnacondaAuthConfig().domain == "two.test"


def test_each_caller_gets_an_independent_copy() -> None:
    first = AnacondaAuthConfig(extra_headers={"X-One": "1"})
    first.extra_headers["X-Two"] = "2"  # type: ignore[index]
    first.domain = "changed.test"
    second = AnacondaAuthConfig(extra_headers={"X-One": "1"})
    assert second.extra_headers == {"X-One": "1"}
    assert second.domain == "anaconda.com"
    assert (
        second.model_fields_set == AnacondaAuthConfig(extra_headers={"X-One": "1"}).model_fields_set
    )


def test_explicit_arguments_are_part_of_the_key(resolutions: list[int]) -> None:
    assert AnacondaAuthConfig(domain="x.test").domain == "x.test"
    assert AnacondaAuthConfig(domain="y.test").domain == "y.test"
    assert AnacondaAuthConfig(domain="x.test").domain == "x.test"
    assert AnacondaAuthConfig(hash_hostname=True).hash_hostname is True
    assert AnacondaAuthConfig(hash_hostname="0").hash_hostname is False  # "0" is not 0 or False
    assert len(resolutions) == 4


def test_a_removed_ca_bundle_is_an_error_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", str(bundle))
    assert AnacondaAuthConfig().ssl_verify == str(bundle)
    bundle.unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        AnacondaAuthConfig()


def test_errors_are_not_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_USE_DEVICE_FLOW", "perhaps")
    for _ in range(2):
        with pytest.raises(ConfigError, match="use_device_flow"):
            AnacondaAuthConfig()
    monkeypatch.setenv("ANACONDA_AUTH_USE_DEVICE_FLOW", "yes")
    assert AnacondaAuthConfig().use_device_flow is True


class _CountingSource:
    """A third-party config source whose value changes on every call."""

    def __init__(self) -> None:
        self.calls = 0

    def load(self, resolved: Any) -> dict[str, Any]:
        self.calls += 1
        return {"client_id": f"client-{self.calls}"}

    @hookimpl
    def anaconda_auth_config_sources(self) -> Iterable[ConfigSource]:
        return [ConfigSource("counting", 350, self.load)]


def test_a_third_party_source_turns_the_memo_off() -> None:
    source = _CountingSource()
    get_plugin_manager().register(source, name="counting-source")
    assert AnacondaAuthConfig().client_id == "client-1"
    assert AnacondaAuthConfig().client_id == "client-2"


def test_registering_a_plugin_invalidates(resolutions: list[int]) -> None:
    AnacondaAuthConfig()
    AnacondaAuthConfig()
    assert len(resolutions) == 1

    class Nothing:
        @hookimpl
        def anaconda_auth_storage_backends(self) -> Iterable[Any]:
            return []

    get_plugin_manager().register(Nothing(), name="nothing")
    AnacondaAuthConfig()
    assert len(resolutions) == 2


def test_a_deprecated_source_warns_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {s.name for s in get_plugin_manager().get_config_sources()}
    if "legacy-env" not in names:
        pytest.skip("no legacy-env config source in this build")
    monkeypatch.setenv("ANACONDA_CLOUD_DOMAIN", "legacy.test")
    for _ in range(2):
        with pytest.warns(DeprecationWarning):
            assert AnacondaAuthConfig().domain == "legacy.test"


# ---------------------------------------------------------------------------------------------
# Remembered token reads


#: One clock reading for the whole module: two keys made with the same arguments are equal
#: even when a second ticks between them.
_NOW = int(time.time())


def jwt(lifetime: float = 3600, tag: str = "x") -> str:
    return fake_jwt(_NOW + lifetime, t=tag)


@pytest.fixture
def keyring(isolated_home: Path) -> Path:
    return isolated_home / ".anaconda" / "keyring"


@pytest.fixture
def backend_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the reads that reach the anaconda-keyring backend (what the memo saves)."""
    calls: list[str] = []
    cls = anaconda_keyring.AnacondaKeyringBackend
    real = cls.get_password

    def counting(self: Any, service: str, username: str) -> str | None:
        calls.append(username)
        return real(self, service, username)

    monkeypatch.setattr(cls, "get_password", counting)
    return calls


def test_repeated_loads_do_not_reach_the_backend(keyring: Path, backend_reads: list[str]) -> None:
    key = jwt()
    TokenInfo(domain="anaconda.com", api_key=key).save()
    make_old(keyring)
    for _ in range(5):
        info = TokenInfo.load()
        assert info.api_key == key and info.source == "anaconda-keyring"
        assert TokenInfo.load("anaconda.com").api_key == key
    assert len(backend_reads) <= 2


def test_a_token_written_by_another_process_is_seen(keyring: Path) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt(tag="first")).save()
    make_old(keyring)
    assert TokenInfo.load().api_key == jwt(tag="first")
    code = (
        "import sys; from anaconda_auth.token import TokenInfo; "
        "TokenInfo(domain='anaconda.com', api_key=sys.argv[1]).save()"
    )
    second = jwt(tag="second")
    subprocess.run([sys.executable, "-c", code, second], check=True, timeout=60)
    make_old(keyring)  # even a trusted stamp: the file is another one
    assert TokenInfo.load().api_key == second


def test_a_replaced_key_file_is_noticed(keyring: Path) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt()).save()
    make_old(keyring)
    TokenInfo.load()
    key_file = keyring.with_name("keyring.key")
    key_file.write_bytes(b"anaconda-keyring-key-v1:" + b"A" * 43 + b"=\n")
    make_old(keyring)
    with pytest.raises(StorageError, match="key file"):
        TokenInfo.load()


def test_a_changed_passphrase_is_noticed(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PASSPHRASE", "right")
    TokenInfo(domain="anaconda.com", api_key=jwt()).save()
    make_old(keyring)
    TokenInfo.load()
    TokenInfo.load()
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PASSPHRASE", "wrong")
    with pytest.raises(StorageError, match="passphrase"):
        TokenInfo.load()


def test_a_configured_api_key_wins_at_once(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt(tag="stored")).save()
    make_old(keyring)
    assert TokenInfo.load().source == "anaconda-keyring"
    TokenInfo.load()
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "configured-key")
    info = TokenInfo.load()
    assert (info.api_key, info.source) == ("configured-key", "environment")
    monkeypatch.delenv("ANACONDA_AUTH_API_KEY")
    assert TokenInfo.load().source == "anaconda-keyring"


def test_a_logout_is_seen(keyring: Path) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt()).save()
    make_old(keyring)
    TokenInfo.load()
    TokenInfo.load().delete()
    make_old(keyring)
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load()


def test_loaded_tokens_are_independent_copies(keyring: Path) -> None:
    info = TokenInfo(domain="anaconda.com", api_key=jwt(), username="ann")
    info.set_repo_token("org", "repo-secret")
    info.save()
    make_old(keyring)
    first = TokenInfo.load()
    first.repo_tokens[0].token = "mutated"
    first.set_repo_token("other", "x")
    first.username = "bob"
    second = TokenInfo.load()
    assert second.get_repo_token("org") == "repo-secret"
    assert [t.org_name for t in second.repo_tokens] == ["org"]
    assert second.username == "ann"


def test_a_backend_without_read_stamp_is_always_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: dict[str, str] = {}
    asked: list[str] = []

    class Plain:
        name = "plain-memory"
        description = "a dict"
        priority = 60
        read_only = False

        def is_available(self) -> tuple[bool, str]:
            return True, ""

        def get_password(self, service: str, username: str) -> str | None:
            asked.append(username)
            return store.get(username)

        def set_password(self, service: str, username: str, password: str) -> None:
            store[username] = password

        def delete_password(self, service: str, username: str) -> None:
            store.pop(username, None)

    class Plugin:
        @hookimpl
        def anaconda_auth_storage_backends(self) -> Iterable[Any]:
            return [Plain()]

    get_plugin_manager().register(Plugin(), name="plain-memory-plugin")
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "plain-memory")
    TokenInfo(domain="anaconda.com", api_key="one").save()
    assert TokenInfo.load().api_key == "one"
    store.clear()  # changed behind our back: nothing can tell, so nothing is remembered
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load()
    assert len(asked) >= 2


def test_read_memo_is_keyed_by_the_configuration(
    keyring: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt(tag="home")).save()
    make_old(keyring)
    TokenInfo.load()
    other = tmp_path / "other-keyring"
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(other))
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load()
    assert token_storage.read("Anaconda Cloud", "anaconda.com") is None


# ---------------------------------------------------------------------------------------------
# Lazy imports


def run_python(code: str) -> str:
    out = processes.run_python(code, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_reading_a_token_does_not_import_requests(keyring: Path) -> None:
    TokenInfo(domain="anaconda.com", api_key=jwt()).save()
    loaded = run_python(
        """
        import sys
        from anaconda_auth.token import TokenInfo
        from anaconda_auth.manager import get_plugin_manager
        TokenInfo.load().get_access_token()
        pm = get_plugin_manager()  # every built-in plugin imported
        pm.get_storage_backends(), pm.get_config_sources()
        print(sorted(m for m in ("requests", "urllib3", "filelock") if m in sys.modules))
        """
    )
    assert loaded == "[]"


def test_the_http_errors_are_created_once_and_behave_as_before() -> None:
    out = run_python(
        """
        import pickle, sys
        import anaconda_auth.exceptions as e
        assert "requests" not in sys.modules
        from anaconda_auth.exceptions import AuthenticationMissingError, InvalidAuthentication
        import requests
        assert e.InvalidAuthentication is InvalidAuthentication
        for cls in (AuthenticationMissingError, InvalidAuthentication):
            assert issubclass(cls, requests.HTTPError) and issubclass(cls, e.AnacondaAuthError)
            assert cls.__module__ == "anaconda_auth.exceptions"
            copy = pickle.loads(pickle.dumps(cls("message")))
            assert type(copy) is cls and str(copy) == "message"
        print(InvalidAuthentication.__qualname__)
        """
    )
    assert out == "InvalidAuthentication"


def test_http_errors_are_picklable_in_process() -> None:
    from anaconda_auth.exceptions import InvalidAuthentication

    assert type(pickle.loads(pickle.dumps(InvalidAuthentication("x")))) is InvalidAuthentication


# ---------------------------------------------------------------------------------------------
# The client's per-request origin check


TRICKY_URLS = [
    "https://anaconda.com/api/x",
    "https://anaconda.com",
    "https://anaconda.com?x=1",
    "https://anaconda.com#frag",
    "https://anaconda.com:443/x",
    "https://anaconda.com./x",
    "https://ANACONDA.com/x",
    "HTTPS://anaconda.com/x",
    "https://anaconda.com@evil.example/x",
    "https://evil.example\\@anaconda.com/x",
    "https://anaconda.com\t.evil.example/x",
    "https://anaconda.com:99999/x",
    "https://anaconda.com:/x",
    "https://[::1]:8443/x",
    "http://127.0.0.1:8080/x",
    "ftp://anaconda.com/x",
    "https:///x",
    "",
]


@pytest.mark.parametrize("url", TRICKY_URLS)
def test_remembered_origins_match_a_full_parse(url: str) -> None:
    from anaconda_auth.client import _origin, _request_origin

    assert _request_origin(url) == _origin(url)
    assert _request_origin(url) == _origin(url)  # the second time from the memo


def test_remembered_origins_match_a_full_parse_fuzzed() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from anaconda_auth.client import _origin, _request_origin

    pieces = st.sampled_from(
        [
            "https://",
            "http://",
            "anaconda.com",
            ".",
            ":",
            "443",
            "8080",
            "@",
            "/",
            "?",
            "#",
            "\\",
            "\t",
            "[",
            "]",
            "::1",
            "evil",
            "A",
            "-",
            "%40",
            " ",
        ]
    )

    @settings(max_examples=300, deadline=None)
    @given(st.lists(pieces, max_size=8).map("".join))
    def check(url: str) -> None:
        assert _request_origin(url) == _origin(url)

    check()


def test_internal_config_state_reprs_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo keeps a snapshot of the environment; neither it nor raw values show in reprs."""
    from anaconda_auth.config import AnacondaAuthConfig
    from anaconda_auth.config import memo as _config_cache
    from anaconda_auth.config.loader import LocatedValues, Resolution

    secret = "sk-repr-check-0123456789"
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", secret)
    AnacondaAuthConfig()
    assert _config_cache._entries
    for entry in _config_cache._entries.values():
        assert secret not in repr(entry)
    assert secret not in repr(LocatedValues({"api_key": secret}))
    assert secret not in repr(Resolution(values={"api_key": secret}))
