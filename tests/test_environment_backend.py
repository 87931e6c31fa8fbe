"""The read-only ``environment`` backend: a configured API key, from any config source."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from anaconda_auth.storage_backends.environment import EnvironmentBackend
from support.config_files import write_config_toml

from anaconda_auth.config import AnacondaAuthConfig
from anaconda_auth.exceptions import StorageError, StorageUnavailableError
from anaconda_auth.manager import get_plugin_manager
from anaconda_auth.storage.access import using_config
from anaconda_auth.token import KEYRING_NAME, TokenInfo


def _value(backend: EnvironmentBackend, username: str = "anaconda.com") -> dict[str, object] | None:
    raw = backend.get_password(KEYRING_NAME, username)
    return None if raw is None else json.loads(base64.b64decode(raw))


def test_registered_read_only_and_first_in_line() -> None:
    backend = get_plugin_manager().get_storage_backends()["environment"]
    assert backend.read_only and backend.is_available() == (True, "")
    from anaconda_auth.storage import access as token_storage

    assert token_storage.read_order()[0] is backend


def test_nothing_without_a_configured_key() -> None:
    assert _value(EnvironmentBackend()) is None


def test_key_from_the_environment_for_the_configured_domain_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "env-key")
    backend = EnvironmentBackend()
    assert _value(backend) == {"domain": "anaconda.com", "api_key": "env-key", "version": 2}
    assert _value(backend, "other.example.test") is None
    assert backend.get_password("Some Other Service", "anaconda.com") is None
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "https://corp.example.test")
    assert _value(backend) is None
    assert _value(backend, "corp.example.test") == {
        "domain": "corp.example.test",
        "api_key": "env-key",
        "version": 2,
    }


def test_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "")
    assert _value(EnvironmentBackend()) is None


def test_key_from_config_toml(isolated_home: Path) -> None:
    write_config_toml(isolated_home, '[plugin.auth]\napi_key = "toml-key"\n')
    assert _value(EnvironmentBackend()) == {
        "domain": "anaconda.com",
        "api_key": "toml-key",
        "version": 2,
    }
    info = TokenInfo.load()
    assert info.source == "environment" and info.api_key == "toml-key"


def test_uses_the_configuration_of_the_operation() -> None:
    config = AnacondaAuthConfig(domain="site.example.test", api_key="site-key")
    backend = EnvironmentBackend()
    assert _value(backend, "site.example.test") is None  # not the default configuration
    with using_config(config):
        assert _value(backend, "site.example.test") == {
            "domain": "site.example.test",
            "api_key": "site-key",
            "version": 2,
        }
    assert TokenInfo.load(config=config).api_key == "site-key"


def test_never_written_or_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EnvironmentBackend()
    with pytest.raises(StorageError, match="read-only"):
        backend.set_password(KEYRING_NAME, "anaconda.com", "x")
    with pytest.raises(StorageError, match="ANACONDA_AUTH_API_KEY"):
        backend.delete_password(KEYRING_NAME, "anaconda.com")
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "environment")
    with pytest.raises(StorageUnavailableError, match="read-only"):
        TokenInfo(domain="anaconda.com", api_key="k").save()


def test_key_is_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "very-secret-key")
    info = TokenInfo.load()
    assert "very-secret-key" not in repr(info)
    assert "very-secret-key" not in repr(EnvironmentBackend())


def test_storage_format_constants_match_the_token_module() -> None:
    """The backend repeats two constants of the token format instead of importing the core."""
    from anaconda_auth.storage_backends import environment

    from anaconda_auth import token

    assert environment.KEYRING_NAME == token.KEYRING_NAME
    assert environment.TOKEN_INFO_VERSION == token.TOKEN_INFO_VERSION
