"""Backend selection, read order, and failure reporting, with real plugins found by entry point."""

from __future__ import annotations

import base64
import json
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest
from support import plugin_dists as pd

from anaconda_auth.exceptions import StorageError, StorageUnavailableError
from anaconda_auth.manager import get_plugin_manager
from anaconda_auth.storage import access as token_storage
from anaconda_auth.token import KEYRING_NAME


@pytest.fixture
def memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The plugin module of two in-memory backends, mem-a (preferred) and mem-b."""
    return pd.install_memory_storage(tmp_path / "site", monkeypatch)


def test_read_order_env_first_then_preferred_then_priority(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [b.name for b in token_storage.read_order()] == ["environment", "mem-a", "mem-b"]
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "mem-b")
    assert [b.name for b in token_storage.read_order()] == ["environment", "mem-b", "mem-a"]


def test_write_goes_to_preferred_and_read_reports_backend(memory: Any) -> None:
    backend = token_storage.write(KEYRING_NAME, "example.test", "value-1")
    assert backend.name == "mem-a"
    assert pd.memory_store("mem-a") == {(KEYRING_NAME, "example.test"): "value-1"}
    assert pd.memory_store("mem-b") == {}
    found = token_storage.read(KEYRING_NAME, "example.test")
    assert found is not None
    assert found[0] == "value-1" and found[1].name == "mem-a"


def test_read_falls_back_to_other_backends(memory: Any) -> None:
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = "old"
    found = token_storage.read(KEYRING_NAME, "example.test")
    assert found is not None and found[0] == "old" and found[1].name == "mem-b"
    assert token_storage.read(KEYRING_NAME, "nothing.test") is None


def test_availability_is_asked_only_when_reached(memory: Any) -> None:
    pd.memory_store("mem-a")[(KEYRING_NAME, "example.test")] = "v"
    memory.CALLS.clear()
    assert token_storage.read(KEYRING_NAME, "example.test") is not None
    assert ("mem-b", "is_available") not in memory.CALLS
    assert ("mem-b", "get") not in memory.CALLS


def test_unavailable_preferred_write_is_a_clear_error(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFF_MEM_A", "the disk is unplugged")
    with pytest.raises(StorageUnavailableError) as info:
        token_storage.write(KEYRING_NAME, "example.test", "v")
    message = str(info.value)
    assert "'mem-a'" in message and "the disk is unplugged" in message
    assert "preferred_token_storage" in message
    assert pd.memory_store("mem-b") == {}  # nothing written elsewhere behind the user's back


def test_unavailable_preferred_read_never_looks_like_logged_out(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFF_MEM_A", "the disk is unplugged")
    with pytest.raises(StorageUnavailableError, match="the disk is unplugged"):
        token_storage.read(KEYRING_NAME, "example.test")
    # a token found elsewhere is still returned
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = "v"
    found = token_storage.read(KEYRING_NAME, "example.test")
    assert found is not None and found[1].name == "mem-b"


def test_unavailable_other_backend_is_skipped(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = "v"
    monkeypatch.setenv("OFF_MEM_B", "off")
    assert token_storage.read(KEYRING_NAME, "example.test") is None
    assert token_storage.delete(KEYRING_NAME, "example.test") == []


def test_unknown_preferred_names_installed_backends(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "no-such-store")
    with pytest.raises(StorageUnavailableError) as info:
        token_storage.write(KEYRING_NAME, "example.test", "v")
    assert "'no-such-store'" in str(info.value)
    assert "mem-a" in str(info.value) and "mem-b" in str(info.value)
    with pytest.raises(StorageUnavailableError, match="no-such-store"):
        token_storage.read(KEYRING_NAME, "example.test")


def test_read_only_preferred_cannot_be_written(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "environment")
    with pytest.raises(StorageUnavailableError, match="read-only"):
        token_storage.write(KEYRING_NAME, "example.test", "v")


def test_delete_removes_every_copy(memory: Any) -> None:
    pd.memory_store("mem-a")[(KEYRING_NAME, "example.test")] = "a"
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = "b"
    pd.memory_store("mem-b")[(KEYRING_NAME, "other.test")] = "keep"
    assert sorted(token_storage.delete(KEYRING_NAME, "example.test")) == ["mem-a", "mem-b"]
    assert pd.memory_store("mem-a") == {}
    assert pd.memory_store("mem-b") == {(KEYRING_NAME, "other.test"): "keep"}
    assert token_storage.delete(KEYRING_NAME, "example.test") == []


def test_delete_with_unavailable_preferred_fails(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pd.memory_store("mem-b")[(KEYRING_NAME, "example.test")] = "b"
    monkeypatch.setenv("OFF_MEM_A", "locked")
    with pytest.raises(StorageUnavailableError, match="locked"):
        token_storage.delete(KEYRING_NAME, "example.test")
    assert pd.memory_store("mem-b") != {}


def test_backend_errors_are_wrapped_without_the_secret(
    memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL_SET_MEM_A", "1")
    secret = "s3cr3t-" + uuid.uuid4().hex
    with pytest.raises(StorageError) as info:
        token_storage.write(KEYRING_NAME, "example.test", secret)
    text = "".join(traceback.format_exception(info.value))
    assert "'mem-a'" in str(info.value) and "disk full" in str(info.value)
    assert secret not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_environment_backend_wins_in_read(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pd.memory_store("mem-a")[(KEYRING_NAME, "anaconda.com")] = "stored"
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "from-env")
    found = token_storage.read(KEYRING_NAME, "anaconda.com")
    assert found is not None and found[1].name == "environment"
    assert json.loads(base64.b64decode(found[0]))["api_key"] == "from-env"
    stored = token_storage.read(KEYRING_NAME, "anaconda.com", writable_only=True)
    assert stored is not None and stored == ("stored", stored[1]) and stored[1].name == "mem-a"


def test_storage_status_lists_every_backend(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFF_MEM_B", "switched off for the test")
    statuses = {s.name: s for s in token_storage.storage_status()}
    assert statuses["mem-a"].preferred and statuses["mem-a"].available
    assert not statuses["mem-b"].available
    assert statuses["mem-b"].reason == "switched off for the test"
    assert statuses["environment"].read_only


def test_read_order_follows_plugins_registered_later(memory: Any) -> None:
    from anaconda_auth.hookspecs import hookimpl

    class Late:
        name = "late"
        description = "registered in-process"
        priority = 1000
        read_only = False

        def is_available(self) -> tuple[bool, str]:
            return True, ""

        def get_password(self, service: str, username: str) -> str | None:
            return "late-value"

        def set_password(self, service: str, username: str, password: str) -> None:
            raise NotImplementedError

        def delete_password(self, service: str, username: str) -> None:
            raise NotImplementedError

    class Plugin:
        @hookimpl
        def anaconda_auth_storage_backends(self) -> list[Late]:
            return [Late()]

    assert [b.name for b in token_storage.read_order()] == ["environment", "mem-a", "mem-b"]
    get_plugin_manager().register(Plugin(), name="late-plugin")
    assert [b.name for b in token_storage.read_order()] == [
        "environment",
        "mem-a",
        "late",
        "mem-b",
    ]
    found = token_storage.read(KEYRING_NAME, "x.test")
    assert found is not None and found[1].name == "late"


def test_current_config_is_shared_inside_an_operation(memory: Any) -> None:
    from anaconda_auth.config import AnacondaAuthConfig

    config = AnacondaAuthConfig(domain="shared.test")
    with token_storage.using_config(config):
        assert token_storage.current_config() is config
    assert token_storage.current_config() is not config
