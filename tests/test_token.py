"""TokenInfo: the stored format of anaconda-auth 0.15, expiry, migration, repo tokens, sources."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import plugin_dists as pd
from support.processes import REF_PYTHON, run_python
from support.tokens import jwt

from anaconda_auth.exceptions import StorageError, TokenExpiredError, TokenNotFoundError
from anaconda_auth.token import KEYRING_NAME, RepoToken, TokenInfo


@pytest.fixture
def memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The plugin module of two in-memory backends, mem-a (preferred) and mem-b."""
    return pd.install_memory_storage(tmp_path / "site", monkeypatch)


def _decoded(value: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(value))
    return data


def _encoded(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_stored_format_matches_anaconda_auth_015(memory: Any) -> None:
    key = jwt()
    TokenInfo(domain="example.test", api_key=key, username=None).save()
    value = pd.memory_store()[(KEYRING_NAME, "example.test")]
    assert KEYRING_NAME == "Anaconda Cloud"
    # None fields are left out, version 2, repo_tokens always present
    assert _decoded(value) == {
        "domain": "example.test",
        "api_key": key,
        "repo_tokens": [],
        "version": 2,
    }


@pytest.mark.skipif(REF_PYTHON is None, reason="anaconda-auth 0.15.3 venv not found")
def test_published_015_decodes_our_value_and_we_decode_its(memory: Any) -> None:
    key = jwt()
    info = TokenInfo(domain="example.test", api_key=key, username="ann@example.test")
    info.set_repo_token("org1", "repo-secret")
    info.save()
    ours = pd.memory_store()[(KEYRING_NAME, "example.test")]
    script = (
        "import sys\n"
        "from anaconda_auth.token import TokenInfo\n"
        "info = TokenInfo(**TokenInfo._decode(sys.argv[1]))\n"
        "assert info.get_repo_token('org1') == 'repo-secret', info\n"
        "print(info.api_key == sys.argv[2], info.username)\n"
        "t = TokenInfo(domain='ref.test', api_key=sys.argv[2], username='bob')\n"
        "from anaconda_auth.token import _as_base64_string\n"
        "print(_as_base64_string(t.model_dump_json(exclude_none=True)))\n"
    )
    assert REF_PYTHON is not None
    out = run_python(script, {**os.environ, "PYTHONPATH": ""}, args=[ours, key], python=REF_PYTHON)
    assert out.returncode == 0, out.stderr
    first, theirs = out.stdout.splitlines()
    assert first == "True ann@example.test"
    pd.memory_store()[(KEYRING_NAME, "ref.test")] = theirs
    loaded = TokenInfo.load("ref.test")
    assert (loaded.domain, loaded.api_key, loaded.username) == ("ref.test", key, "bob")
    assert loaded.source == "mem-a"


def test_load_reports_source_and_falls_back(memory: Any) -> None:
    key = jwt()
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = _encoded(
        {"domain": "example.test", "api_key": key, "version": 2}
    )
    info = TokenInfo.load("example.test")
    assert info.api_key == key and info.source == "mem-b"


def test_token_not_found(memory: Any) -> None:
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("missing.test")
    created = TokenInfo.load("missing.test", create=True)
    assert created.domain == "missing.test" and created.api_key is None
    with pytest.raises(TokenNotFoundError):
        TokenInfo(domain="missing.test").get_access_token()
    with pytest.raises(TokenNotFoundError):
        TokenInfo(domain="missing.test").delete()


def test_default_domain_comes_from_config(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "https://configured.test/")
    TokenInfo(api_key=jwt()).save()
    assert (KEYRING_NAME, "configured.test") in pd.memory_store()
    assert TokenInfo.load().domain == "configured.test"


def test_legacy_domain_is_migrated(memory: Any) -> None:
    key = jwt()
    legacy = {
        "domain": "anaconda.cloud",
        "api_key": key,
        "username": "ann",
        "repo_tokens": [{"token": "rt", "org_name": "org"}],
        "version": 1,
    }
    pd.memory_store("mem-b")[(KEYRING_NAME, "anaconda.cloud")] = _encoded(legacy)
    info = TokenInfo.load("anaconda.com")
    assert (info.domain, info.api_key, info.username) == ("anaconda.com", key, "ann")
    assert info.get_repo_token("org") == "rt"
    # re-saved under the new domain in the preferred backend, removed under the legacy one
    assert _decoded(pd.memory_store("mem-a")[(KEYRING_NAME, "anaconda.com")])["version"] == 2
    assert (KEYRING_NAME, "anaconda.cloud") not in pd.memory_store("mem-b")
    assert TokenInfo.load("anaconda.com").source == "mem-a"


def test_repo_tokens_survive_resaving(memory: Any) -> None:
    info = TokenInfo(domain="example.test", api_key=jwt())
    info.set_repo_token("org1", "t1")
    info.set_repo_token("org2", "t2")
    info.save()

    # what login does: load (or create), replace the key, save
    again = TokenInfo.load("example.test", create=True)
    new_key = jwt(sub="new")
    again.api_key = new_key
    again.username = "ann"
    again.save()

    final = TokenInfo.load("example.test")
    assert final.api_key == new_key and final.username == "ann"
    assert [(t.org_name, t.token) for t in final.repo_tokens] == [("org1", "t1"), ("org2", "t2")]

    final.set_repo_token("org1", "t1b")
    final.delete_repo_token("org2")
    final.save()
    assert [(t.org_name, t.token) for t in TokenInfo.load("example.test").repo_tokens] == [
        ("org1", "t1b")
    ]


def test_get_access_token_loads_everything(memory: Any) -> None:
    key = jwt()
    info = TokenInfo(domain="example.test", api_key=key, username="ann")
    info.set_repo_token("org", "rt")
    info.save()
    fresh = TokenInfo(domain="example.test")
    assert fresh.get_access_token() == key
    assert fresh.username == "ann" and fresh.get_repo_token("org") == "rt"
    assert fresh.source == "mem-a"


def test_expired_key_raises(memory: Any) -> None:
    TokenInfo(domain="example.test", api_key=jwt(exp=time.time() - 60)).save()
    with pytest.raises(TokenExpiredError):
        TokenInfo(domain="example.test").get_access_token()


@pytest.fixture
def timezone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not Path("/usr/share/zoneinfo", request.param).exists():
        pytest.skip(f"no tzdata for {request.param}")
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "timezone", ["America/Los_Angeles", "Asia/Tokyo", "UTC", "Pacific/Kiritimati"], indirect=True
)
def test_expiry_is_compared_in_utc(timezone: str) -> None:
    # the local offset must not matter: LA is UTC-8/-7, Tokyo UTC+9, Kiritimati UTC+14
    assert time.localtime().tm_gmtoff != 0 or timezone == "UTC"
    now = time.time()
    for minutes, expired in [(-30, True), (-1, True), (1, False), (30, False)]:
        info = TokenInfo(domain="x.test", api_key=jwt(exp=now + minutes * 60))
        assert info.expired is expired, (timezone, minutes)
        assert info.expires_at is not None
        assert info.expires_at.tzinfo is dt.timezone.utc
        assert abs(info.expires_at.timestamp() - (now + minutes * 60)) < 1


def test_expiry_edge_cases() -> None:
    assert TokenInfo(domain="x.test").expired  # no key
    assert not TokenInfo(domain="x.test", api_key="opaque-key").expired  # not a JWT: server decides
    assert TokenInfo(domain="x.test", api_key="opaque-key").expires_at is None
    no_exp = TokenInfo(domain="x.test", api_key=jwt().replace(jwt().split(".")[1], "e30"))
    assert no_exp.expires_at is None and not no_exp.expired  # a JWT without exp: {}


def test_environment_key_wins_and_is_never_stored(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_key = jwt(sub="stored")
    env_key = jwt(sub="env")
    info = TokenInfo(domain="anaconda.com", api_key=stored_key, username="ann")
    info.set_repo_token("org", "rt")
    info.save()

    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", env_key)
    loaded = TokenInfo.load()
    assert loaded.api_key == env_key and loaded.source == "environment"
    assert loaded.get_repo_token("org") == "rt"  # the stored repo tokens stay visible
    assert TokenInfo(domain="anaconda.com").get_access_token() == env_key

    # what `anaconda token install` does under an environment key
    loaded.set_repo_token("org2", "rt2")
    loaded.save()
    stored = _decoded(pd.memory_store()[(KEYRING_NAME, "anaconda.com")])
    assert stored["api_key"] == stored_key  # the configured key was not copied into the store
    assert stored["username"] == "ann"
    assert [t["org_name"] for t in stored["repo_tokens"]] == ["org", "org2"]
    assert env_key not in json.dumps(stored)

    # a new key (a login with --force) is stored
    loaded.api_key = jwt(sub="new")
    loaded.save()
    assert _decoded(pd.memory_store()[(KEYRING_NAME, "anaconda.com")])["api_key"] == loaded.api_key

    # only for the configured domain
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("other.test")


def test_environment_key_without_stored_entry(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = jwt(sub="env")
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", env_key)
    info = TokenInfo.load()
    assert info.source == "environment" and info.repo_tokens == []
    info.set_repo_token("org", "rt")
    info.save()
    stored = _decoded(pd.memory_store()[(KEYRING_NAME, "anaconda.com")])
    assert "api_key" not in stored and stored["repo_tokens"][0]["token"] == "rt"
    monkeypatch.delenv("ANACONDA_AUTH_API_KEY")
    reloaded = TokenInfo.load()
    assert reloaded.api_key is None and reloaded.source == "mem-a"


def test_delete_removes_every_copy(memory: Any) -> None:
    value = _encoded({"domain": "example.test", "api_key": jwt(), "version": 2})
    pd.memory_store("mem-a")[(KEYRING_NAME, "example.test")] = value
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = value
    TokenInfo(domain="example.test").delete()
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("example.test")


def test_corrupt_stored_value_is_an_error(memory: Any) -> None:
    pd.memory_store()[(KEYRING_NAME, "bad.test")] = "%%% not base64 %%%"
    with pytest.raises(StorageError, match="not valid base64 JSON"):
        TokenInfo.load("bad.test")
    pd.memory_store()[(KEYRING_NAME, "bad.test")] = _encoded(
        {"domain": "bad.test", "repo_tokens": 5}
    )
    with pytest.raises(StorageError, match="repo_tokens"):
        TokenInfo.load("bad.test")


def test_secrets_are_not_in_repr() -> None:
    key = jwt()
    info = TokenInfo(domain="x.test", api_key=key, repo_tokens=[RepoToken(token="rt-secret")])
    assert key not in repr(info) and key not in str(info)
    assert "rt-secret" not in repr(info)


def test_load_accepts_a_site_config(memory: Any) -> None:
    from anaconda_auth.config import AnacondaAuthConfig

    config = AnacondaAuthConfig(domain="site.test", preferred_token_storage="mem-b")
    TokenInfo(domain="site.test", api_key=jwt()).save(config=config)
    assert (KEYRING_NAME, "site.test") in pd.memory_store("mem-b")
    assert TokenInfo.load(config=config).source == "mem-b"
    TokenInfo(domain="site.test").delete(config=config)
    assert pd.memory_store("mem-b") == {}
