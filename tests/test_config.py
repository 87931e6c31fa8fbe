"""Configuration: the sources and their precedence, sites, errors, explain(), no stale values.

Every test runs with its own HOME and working directory, no ANACONDA_* variables and a secrets
directory that does not exist (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.config_files import config_toml, write_config_toml, write_dotenv
from support.processes import run_python

from anaconda_auth.config import (
    DEFAULT_CLIENT_ID,
    EXPECTED,
    FIELD_NAMES,
    MASK,
    SOURCE_RANKS,
    AnacondaAuthConfig,
    AnacondaAuthSite,
    AnacondaAuthSitesConfig,
    explain,
    unknown_keys,
)
from anaconda_auth.config import files as _paths
from anaconda_auth.exceptions import ConfigError, UnknownSiteName
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.manager import PluginWarning, get_plugin_manager, reset_plugin_manager
from anaconda_auth.plugin_types import ConfigSource, ConfigValues

# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def home(isolated_home: Path) -> Path:
    return isolated_home


def secrets(home: Path) -> Path:
    path = Path(os.environ["ANACONDA_SECRETS_DIR"])
    path.mkdir(exist_ok=True)
    return path


def write_secret(home: Path, name: str, text: str) -> Path:
    path = secrets(home) / name
    path.write_text(text)
    return path


def origin(key: str, **explicit: Any) -> tuple[str, str]:
    row = next(r for r in explain(**explicit) if r.key == key)
    return row.source, row.location


def set_old_mtime(path: Path, stamp: float | None = None) -> float:
    stamp = stamp if stamp is not None else time.time() - 3600
    os.utime(path, (stamp, stamp))
    return stamp


# --- defaults -----------------------------------------------------------------------------------


def test_defaults_match_the_published_package_except_use_device_flow(home: Path) -> None:
    config = AnacondaAuthConfig()
    assert config.domain == "anaconda.com"
    assert config.site == "anaconda.com"
    assert config.auth_domain_override is None
    assert config.auth_domain == "anaconda.com"
    assert config.ssl_verify is True
    assert config.preferred_token_storage == "anaconda-keyring"
    assert config.api_key is None
    assert config.keyring_path == home / ".anaconda" / "keyring"
    assert config.extra_headers is None
    assert config.client_id == DEFAULT_CLIENT_ID == "b4ad7f1d-c784-46b5-a9fe-106e50441f5a"
    assert config.redirect_uri == "http://127.0.0.1:8000/auth/oidc"
    assert config.openid_config_path == "/.well-known/openid-configuration"
    assert config.oidc_request_headers["User-Agent"].startswith("anaconda-auth/")
    assert config.login_success_path == "/app/local-login-success"
    assert config.login_error_path == "/app/local-login-error"
    # the one decision that differs from 0.15.3: the browser flow by default, the device flow
    # automatically when no browser can be opened
    assert config.use_device_flow is False
    assert config.proxy_servers is None
    assert config.client_cert is None and config.client_cert_key is None
    assert config.hash_hostname is True
    assert config.disabled_plugins == []
    assert config.well_known_url == "https://anaconda.com/.well-known/openid-configuration"
    assert config.login_success_url == "https://anaconda.com/app/local-login-success"
    assert config.login_error_url == "https://anaconda.com/app/local-login-error"
    assert all(r.source == "default" for r in explain())


def test_every_field_has_an_expected_form_for_errors() -> None:
    assert set(FIELD_NAMES) == set(EXPECTED)


def test_derived_urls_use_the_auth_domain_override(home: Path) -> None:
    config = AnacondaAuthConfig(domain="example.com", auth_domain_override="auth.example.com")
    assert config.well_known_url == "https://auth.example.com/.well-known/openid-configuration"
    assert config.login_success_url == "https://example.com/app/local-login-success"


def test_the_site_model_alone_reads_no_source(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "env.example.com")
    assert AnacondaAuthSite().domain == "anaconda.com"
    assert AnacondaAuthConfig().domain == "env.example.com"
    assert isinstance(AnacondaAuthConfig(), AnacondaAuthSite)


# --- precedence ---------------------------------------------------------------------------------

LADDER = ["explicit", "environment", "secrets-dir", "dotenv", "site", "config-toml", "default"]


def _set_all_sources(
    home: Path, monkeypatch: pytest.MonkeyPatch, key: str, values: dict[str, Any]
) -> dict[str, Any]:
    """Put ``key`` in every file/env source, each with its own value, as that source spells it;
    return the explicit kwargs."""

    def as_text(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "off"
        if isinstance(value, dict):
            return json.dumps(value)
        return str(value)

    def as_toml(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict):
            return (
                "{ "
                + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
                + " }"
            )
        return json.dumps(value)

    env = f"ANACONDA_AUTH_{key.upper()}"
    monkeypatch.setenv(env, as_text(values["environment"]))
    write_secret(home, env, as_text(values["secrets-dir"]) + "\n")
    write_dotenv(home, f"# a comment\nexport {env}='{as_text(values['dotenv'])}'\n")
    write_config_toml(
        home,
        f"""
        default_site = "main"
        [sites.main]
        domain = "main.example.com"
        {key} = {as_toml(values["site"])}
        [plugin.auth]
        {key} = {as_toml(values["config-toml"])}
        """,
    )
    return {key: values["explicit"]}


def _remove(home: Path, monkeypatch: pytest.MonkeyPatch, key: str, source: str) -> None:
    env = f"ANACONDA_AUTH_{key.upper()}"
    if source == "environment":
        monkeypatch.delenv(env)
    elif source == "secrets-dir":
        (secrets(home) / env).unlink()
    elif source == "dotenv":
        (home / ".env").unlink()
    elif source == "site":
        write_config_toml(
            home,
            config_toml(home).read_text().replace(f"{key} =", f"unrelated_{key} =", 1),
        )
    elif source == "config-toml":
        config_toml(home).unlink()


LADDER_VALUES: dict[str, dict[str, Any]] = {
    "client_id": {s: f"id-from-{s}" for s in LADDER[:-1]} | {"default": DEFAULT_CLIENT_ID},
    "hash_hostname": {
        "explicit": True,
        "environment": False,
        "secrets-dir": True,
        "dotenv": False,
        "site": True,
        "config-toml": False,
        "default": True,
    },
    "extra_headers": {s: {"X-From": s} for s in LADDER[:-1]} | {"default": None},
}


@pytest.mark.parametrize("key", sorted(LADDER_VALUES))
def test_each_source_beats_the_one_below(
    home: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    values = LADDER_VALUES[key]
    explicit = _set_all_sources(home, monkeypatch, key, values)
    for source in LADDER:
        config = AnacondaAuthConfig(**explicit)
        assert getattr(config, key) == values[source], f"{key} should come from {source}"
        assert origin(key, **explicit)[0] == source
        if source == "explicit":
            explicit = {}
        elif source != "default":
            _remove(home, monkeypatch, key, source)


def test_locations_name_the_exact_place(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_all_sources(home, monkeypatch, "client_id", LADDER_VALUES["client_id"])
    assert origin("client_id", client_id="x") == ("explicit", "argument client_id=")
    assert origin("client_id") == ("environment", "ANACONDA_AUTH_CLIENT_ID")
    monkeypatch.delenv("ANACONDA_AUTH_CLIENT_ID")
    assert origin("client_id") == ("secrets-dir", str(secrets(home) / "ANACONDA_AUTH_CLIENT_ID"))
    _remove(home, monkeypatch, "client_id", "secrets-dir")
    assert origin("client_id") == ("dotenv", "~/.env line 2: ANACONDA_AUTH_CLIENT_ID")
    _remove(home, monkeypatch, "client_id", "dotenv")
    assert origin("client_id") == ("site", "~/.anaconda/config.toml [sites.main] client_id")
    _remove(home, monkeypatch, "client_id", "site")
    assert origin("client_id") == ("config-toml", "~/.anaconda/config.toml [plugin.auth] client_id")


def test_none_arguments_count_as_not_given(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "false")
    assert AnacondaAuthConfig(ssl_verify=None).ssl_verify is False
    assert AnacondaAuthConfig(ssl_verify=True).ssl_verify is True


def test_empty_values_count_as_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config_toml(home, '[plugin.auth]\napi_key = "from-toml"\nssl_verify = false\n')
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", "")
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", " ")
    write_secret(home, "ANACONDA_AUTH_CLIENT_ID", "\n")
    config = AnacondaAuthConfig()
    assert config.api_key == "from-toml"
    assert config.ssl_verify is False
    assert config.client_id == DEFAULT_CLIENT_ID


# --- third-party sources ----------------------------------------------------------------------


class RankedSource:
    """A third-party plugin object contributing one source at a given rank."""

    def __init__(self, name: str, rank: int, values: dict[str, Any]) -> None:
        self.name, self.rank, self.values = name, rank, values
        self.seen: list[dict[str, Any]] = []

    def load(self, resolved: ConfigValues) -> dict[str, Any]:
        self.seen.append(dict(resolved))
        return self.values

    @hookimpl
    def anaconda_auth_config_sources(self) -> Iterable[ConfigSource]:
        yield ConfigSource(self.name, self.rank, self.load, "test", where=lambda k: f"vault:{k}")


def test_a_registered_third_party_source_slots_in_by_rank(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rank = (SOURCE_RANKS["secrets-dir"] + SOURCE_RANKS["dotenv"]) // 2
    plugin = RankedSource("vault", rank, {"client_id": "from-vault", "domain": "vault.example"})
    get_plugin_manager().register(plugin, name="vault-plugin")
    write_dotenv(home, "ANACONDA_AUTH_CLIENT_ID=from-dotenv\nANACONDA_AUTH_DOMAIN=dotenv.example\n")
    write_secret(home, "ANACONDA_AUTH_DOMAIN", "secret.example")
    monkeypatch.setenv("ANACONDA_AUTH_REDIRECT_URI", "http://127.0.0.1:1/cb")

    config = AnacondaAuthConfig()
    assert config.client_id == "from-vault"  # beats .env (rank 400)
    assert config.domain == "secret.example"  # loses to the secrets dir (rank 500)
    assert origin("client_id") == ("vault", "vault:client_id")
    # it sees what the higher sources set
    assert plugin.seen[-1]["redirect_uri"] == "http://127.0.0.1:1/cb"
    assert plugin.seen[-1]["domain"] == "secret.example"
    assert "client_id" not in plugin.seen[-1]

    names = [s.name for s in get_plugin_manager().get_config_sources()]
    assert names == [
        "environment",
        "secrets-dir",
        "vault",
        "dotenv",
        "site",
        "legacy-env",
        "config-toml",
        "legacy-toml",
        "conda",
    ]


def test_a_third_party_source_below_the_toml_table_loses_to_it(home: Path) -> None:
    get_plugin_manager().register(RankedSource("low", 100, {"client_id": "low"}), name="low")
    assert AnacondaAuthConfig().client_id == "low"  # beats the defaults
    write_config_toml(home, '[plugin.auth]\nclient_id = "toml"\n')
    assert AnacondaAuthConfig().client_id == "toml"


def test_a_failing_third_party_source_is_skipped_with_a_warning(home: Path) -> None:
    def broken(resolved: ConfigValues) -> ConfigValues:
        raise RuntimeError("vault unreachable")

    class Broken:
        @hookimpl
        def anaconda_auth_config_sources(self) -> Iterable[ConfigSource]:
            yield ConfigSource("broken", 450, broken)

    get_plugin_manager().register(Broken(), name="broken-plugin")
    with pytest.warns(PluginWarning, match="broken.*vault unreachable"):
        config = AnacondaAuthConfig(domain="ok.example")
    assert config.domain == "ok.example"


def test_a_bad_value_from_a_third_party_source_names_it(home: Path) -> None:
    get_plugin_manager().register(RankedSource("vault", 450, {"ssl_verify": "maybe"}), name="v")
    with pytest.raises(ConfigError, match="Invalid ssl_verify from vault:ssl_verify"):
        AnacondaAuthConfig()


@pytest.fixture
def entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real installed distribution with an ``anaconda_auth`` entry point and a config source."""
    site = tmp_path / "site"
    dist = site / "anaconda_auth_test_source-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: anaconda-auth-test-source\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[anaconda_auth]\ntest-source = anaconda_auth_test_source\n"
    )
    (site / "anaconda_auth_test_source.py").write_text(
        textwrap.dedent(
            """
            import os
            from anaconda_auth import hookimpl
            from anaconda_auth.plugin_types import ConfigSource

            def load(resolved):
                return {"client_id": os.environ.get("TEST_SOURCE_CLIENT_ID", "from-entry-point")}

            @hookimpl
            def anaconda_auth_config_sources():
                yield ConfigSource("test-source", 450, load, "a test source")
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    yield "test-source"
    sys.modules.pop("anaconda_auth_test_source", None)
    reset_plugin_manager()


def test_an_entry_point_source_slots_in_and_can_be_disabled(
    home: Path, monkeypatch: pytest.MonkeyPatch, entry_point_plugin: str
) -> None:
    write_dotenv(home, "ANACONDA_AUTH_CLIENT_ID=from-dotenv\n")
    assert AnacondaAuthConfig().client_id == "from-entry-point"
    monkeypatch.setenv("TEST_SOURCE_CLIENT_ID", "changed")  # sources run on every call
    assert AnacondaAuthConfig().client_id == "changed"
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_ID", "from-env")
    assert AnacondaAuthConfig().client_id == "from-env"
    monkeypatch.delenv("ANACONDA_AUTH_CLIENT_ID")
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", f"other, {entry_point_plugin}")
    assert AnacondaAuthConfig().client_id == "from-dotenv"
    assert AnacondaAuthConfig().disabled_plugins == ["other", entry_point_plugin]


# --- value forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("Yes", True),
        ("no", False),
        ("on", True),
        ("Off", False),
        ("1", True),
        ("0", False),
        (" false\n", False),
        ("truststore", "truststore"),
        ("TrustStore", "truststore"),
    ],
)
def test_ssl_verify_words(
    home: Path, monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool | str
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", raw)
    assert AnacondaAuthConfig().ssl_verify == expected


def test_ssl_verify_ca_bundle_path(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = home / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "~/ca.pem")
    assert AnacondaAuthConfig().ssl_verify == str(bundle)
    bundle.unlink()
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert "ANACONDA_AUTH_SSL_VERIFY" in message and str(bundle) in message
    assert "does not exist" in message and '"truststore"' in message


def test_ssl_verify_in_toml_may_be_bool_or_string(home: Path) -> None:
    write_config_toml(home, "[plugin.auth]\nssl_verify = false\n")
    assert AnacondaAuthConfig().ssl_verify is False
    write_config_toml(home, '[plugin.auth]\nssl_verify = "truststore"\n')
    assert AnacondaAuthConfig().ssl_verify == "truststore"
    write_config_toml(home, "[plugin.auth]\nssl_verify = 3\n")
    with pytest.raises(ConfigError, match=r"\[plugin.auth\] ssl_verify: got a int"):
        AnacondaAuthConfig()


def test_structured_values_from_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-One": "1", "X-Two": "2"}')
    monkeypatch.setenv("ANACONDA_AUTH_PROXY_SERVERS", '{"https": "http://proxy:3128"}')
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", '["a", "b"]')
    monkeypatch.setenv("ANACONDA_AUTH_USE_DEVICE_FLOW", "yes")
    monkeypatch.setenv("ANACONDA_AUTH_HASH_HOSTNAME", "0")
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", "$HOME/keys/ring")
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "https://Example.COM:8443/some/path")
    config = AnacondaAuthConfig()
    assert config.extra_headers == {"X-One": "1", "X-Two": "2"}
    assert config.proxy_servers == {"https": "http://proxy:3128"}
    assert config.disabled_plugins == ["a", "b"]
    assert config.use_device_flow is True
    assert config.hash_hostname is False
    assert config.keyring_path == home / "keys" / "ring"
    assert config.domain == "Example.COM:8443"


def test_extra_headers_as_dict_or_json_string(home: Path) -> None:
    assert AnacondaAuthConfig(extra_headers={"X-A": "b"}).extra_headers == {"X-A": "b"}
    assert AnacondaAuthConfig(extra_headers='{"X-A": "b"}').extra_headers == {"X-A": "b"}
    write_config_toml(home, '[plugin.auth]\nextra_headers = \'{"X-T": "toml"}\'\n')
    assert AnacondaAuthConfig().extra_headers == {"X-T": "toml"}
    write_config_toml(home, '[plugin.auth.extra_headers]\nX-T = "table"\n')
    assert AnacondaAuthConfig().extra_headers == {"X-T": "table"}


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("extra_headers", "[1, 2]", "not an object"),
        ("extra_headers", "{not json", "not valid JSON"),
        ("extra_headers", '{"X-A": 1}', "valid string"),
        ("extra_headers", '{"bad header": "v"}', "not a valid HTTP header name"),
        ("proxy_servers", '"http://proxy"', "not an object"),
        ("use_device_flow", "sometimes", "not one of true/false"),
        ("domain", "not a domain", "does not look like a domain"),
        ("domain", "https://", "does not look like a domain"),
        ("keyring_path", " ", None),  # blank counts as unset, not an error
    ],
)
def test_bad_environment_values_name_the_variable_and_the_key(
    home: Path, monkeypatch: pytest.MonkeyPatch, key: str, raw: str, fragment: str | None
) -> None:
    env = f"ANACONDA_AUTH_{key.upper()}"
    monkeypatch.setenv(env, raw)
    if fragment is None:
        AnacondaAuthConfig()
        return
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert message.startswith(f"Invalid {key}")
    assert f"from {env}:" in message
    assert fragment in message
    assert f"Expected {EXPECTED[key]}" in message


def test_several_bad_values_are_reported_together(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_HASH_HOSTNAME", "maybe")
    write_config_toml(home, "[plugin.auth]\nclient_id = 42\n")
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert "ANACONDA_AUTH_HASH_HOSTNAME" in message
    assert "~/.anaconda/config.toml [plugin.auth] client_id" in message
    assert "(got 42)" in message


def test_a_bad_value_that_is_overridden_is_not_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(home, '[plugin.auth]\nssl_verify = "/no/such/bundle.pem"\n')
    with pytest.raises(ConfigError, match=r"\[plugin.auth\] ssl_verify"):
        AnacondaAuthConfig()
    monkeypatch.setenv("ANACONDA_AUTH_SSL_VERIFY", "true")
    assert AnacondaAuthConfig().ssl_verify is True


def test_explicit_bad_values_name_the_argument(home: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid use_device_flow from the use_device_flow= arg"):
        AnacondaAuthConfig(use_device_flow="perhaps")
    # (the plugin manager checks ANACONDA_AUTH_DISABLED_PLUGINS itself, before any source)
    with pytest.raises(ConfigError, match="disabled_plugins= argument: not a valid JSON list"):
        AnacondaAuthConfig(disabled_plugins="[1")


def test_secrets_never_appear_in_errors_or_tracebacks(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-THE-SECRET-VALUE"
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", f'{{"Authorization": "Bearer {secret}"')
    write_config_toml(home, f'[plugin.auth]\napi_key = ["{secret}"]\n')
    monkeypatch.setenv(
        "ANACONDA_AUTH_PROXY_SERVERS", json.dumps({"https": 1, "http": f"http://u:{secret}@p"})
    )
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    rendered = "".join(traceback.format_exception(err.value))
    assert secret not in rendered
    assert err.value.__context__ is None and err.value.__cause__ is None
    assert "api_key" in rendered and "extra_headers" in rendered and "proxy_servers" in rendered
    monkeypatch.delenv("ANACONDA_AUTH_EXTRA_HEADERS")
    monkeypatch.delenv("ANACONDA_AUTH_PROXY_SERVERS")
    assert secret not in repr(AnacondaAuthConfig(api_key=secret))


# --- config.toml --------------------------------------------------------------------------------


def test_malformed_config_toml_names_the_file_and_line(home: Path) -> None:
    write_config_toml(home, '[plugin.auth]\ndomain = "ok"\nssl_verify = \n')
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert "~/.anaconda/config.toml is not valid TOML" in message
    assert "line 3" in message


def test_config_toml_location_follows_anaconda_config_toml(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[plugin.auth]\ndomain = "elsewhere.example"\nhash_hostname = "x"\n')
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", str(other))
    with pytest.raises(ConfigError, match=f"{other} \\[plugin.auth\\] hash_hostname"):
        AnacondaAuthConfig()
    other.write_text('[plugin.auth]\ndomain = "elsewhere.example"\n')
    assert AnacondaAuthConfig().domain == "elsewhere.example"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("plugin = 3\n", "Invalid [plugin.auth]"),
        ("[plugin]\nauth = 3\n", "Invalid [plugin.auth]"),
        ("sites = 3\n", "Invalid sites"),
        ("[sites]\nfoo = 3\n", "Invalid [sites] entry 'foo'"),
        ("default_site = 3\n", "Invalid default_site"),
    ],
)
def test_wrongly_shaped_tables_are_errors_naming_the_file(
    home: Path, text: str, fragment: str
) -> None:
    write_config_toml(home, text)
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    assert fragment in str(err.value) and "~/.anaconda/config.toml" in str(err.value)


def test_unknown_keys_are_ignored_and_listed_without_values(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(
        home,
        """
        [sites.main]
        domain = "main.example"
        colour = "blue"
        [plugin.auth]
        ssl_verfy = false
        """,
    )
    monkeypatch.setenv("ANACONDA_AUTH_API_KYE", "secret-typo")
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PASSPHRASE", "not a config key, not unknown")
    config = AnacondaAuthConfig(not_a_field=1)
    assert config.ssl_verify is True
    found = {(u.key, u.location) for u in unknown_keys(not_a_field=1)}
    assert found == {
        ("not_a_field", "argument not_a_field="),
        ("api_kye", "ANACONDA_AUTH_API_KYE"),
        ("colour", "~/.anaconda/config.toml [sites.main] colour"),
        ("ssl_verfy", "~/.anaconda/config.toml [plugin.auth] ssl_verfy"),
    }
    assert all(u.value is None for u in unknown_keys())


# --- secrets dir and .env -------------------------------------------------------------------


def test_secrets_dir_files_are_named_like_the_variables(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_secret(home, "ANACONDA_AUTH_API_KEY", "  key-from-secret\n")
    write_secret(home, "anaconda_auth_domain", "lower.example")  # the case of the name is ignored
    write_secret(home, "api_key", "bare field names are not read")
    write_secret(home, "OTHER_TOOL_TOKEN", "ignored")
    (secrets(home) / "ANACONDA_AUTH_CLIENT_ID").mkdir()  # not a file: ignored
    config = AnacondaAuthConfig()
    assert config.api_key == "key-from-secret"
    assert config.domain == "lower.example"
    assert config.client_id == DEFAULT_CLIENT_ID
    # a missing directory is simply no source
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(home / "missing"))
    assert AnacondaAuthConfig().api_key is None


def test_secrets_dir_defaults_to_run_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANACONDA_SECRETS_DIR")
    assert _paths.secrets_dir() == Path("/run/secrets")


def test_dotenv_forms(home: Path) -> None:
    write_dotenv(
        home,
        r"""
        # comment
        OTHER=ignored
        export ANACONDA_AUTH_DOMAIN = dotenv.example   # trailing comment
        ANACONDA_AUTH_CLIENT_ID="quoted \"id\" with # hash"
        ANACONDA_AUTH_LOGIN_SUCCESS_PATH='/single $NOT_EXPANDED \n'
        BROKEN LINE FOR ANOTHER TOOL
        OTHER_TOOL="never closed
        ANACONDA_AUTH_EXTRA_HEADERS='{"X-A": "1",
          "X-B": "2"}'
        """,
    )
    config = AnacondaAuthConfig()
    assert config.domain == "dotenv.example"
    assert config.client_id == 'quoted "id" with # hash'
    assert config.login_success_path == r"/single $NOT_EXPANDED \n"
    assert config.extra_headers == {"X-A": "1", "X-B": "2"}


def test_dotenv_errors_on_our_lines_name_the_line(home: Path) -> None:
    write_dotenv(home, "A=1\nANACONDA_AUTH_DOMAIN='never closed\n")
    with pytest.raises(ConfigError, match=r"~/.env line 2 \(ANACONDA_AUTH_DOMAIN\): the ' quote"):
        AnacondaAuthConfig()
    write_dotenv(home, "ANACONDA_AUTH_DOMAIN example.com\n")
    with pytest.raises(ConfigError, match=r"~/.env line 1 .*expected NAME=value"):
        AnacondaAuthConfig()


def test_dotenv_is_read_from_the_current_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dotenv(home, "ANACONDA_AUTH_DOMAIN=home.example\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("ANACONDA_AUTH_DOMAIN=project.example\n")
    assert AnacondaAuthConfig().domain == "home.example"
    monkeypatch.chdir(project)
    assert AnacondaAuthConfig().domain == "project.example"
    monkeypatch.chdir(tmp_path)
    assert AnacondaAuthConfig().domain == "anaconda.com"


# --- sites --------------------------------------------------------------------------------------

SITES = """
default_site = "beta"
[sites.alpha]
domain = "alpha.example.com"
ssl_verify = false
client_id = "alpha-id"
[sites.beta]
domain = "https://beta.example.com/"
client_id = "beta-id"
[sites."gamma site"]
domain = "gamma.example.com"
[plugin.auth]
client_id = "plugin-id"
hash_hostname = false
"""


def test_site_selection_by_default_site(home: Path) -> None:
    write_config_toml(home, SITES)
    config = AnacondaAuthConfig()
    assert (config.site, config.domain, config.client_id) == ("beta", "beta.example.com", "beta-id")
    assert config.hash_hostname is False  # [plugin.auth] still applies below the site table
    assert origin("site") == ("site", "~/.anaconda/config.toml default_site")


def test_site_selection_by_name_and_by_domain(home: Path) -> None:
    write_config_toml(home, SITES)
    alpha = AnacondaAuthConfig(site="alpha")
    assert (alpha.domain, alpha.ssl_verify, alpha.client_id) == (
        "alpha.example.com",
        False,
        "alpha-id",
    )
    assert AnacondaAuthConfig(site="alpha.example.com").site == "alpha"
    assert AnacondaAuthConfig(site="gamma site").domain == "gamma.example.com"
    by_domain = AnacondaAuthConfig(domain="https://alpha.example.com")
    assert (by_domain.site, by_domain.client_id) == ("alpha", "alpha-id")
    other = AnacondaAuthConfig(domain="unconfigured.example")
    assert (other.site, other.client_id) == ("unconfigured.example", "plugin-id")


def test_site_selection_by_anaconda_default_site(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(home, SITES)
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "alpha")
    assert AnacondaAuthConfig().client_id == "alpha-id"
    assert origin("site") == ("site", "ANACONDA_DEFAULT_SITE")
    assert AnacondaAuthSitesConfig().default_site == "alpha"
    assert AnacondaAuthConfig(site="beta").client_id == "beta-id"  # explicit beats it
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "gamma.example.com")  # a domain works too
    assert AnacondaAuthConfig().site == "gamma site"


def test_the_first_site_is_the_default_without_default_site(home: Path) -> None:
    write_config_toml(home, SITES.replace('default_site = "beta"', ""))
    assert AnacondaAuthConfig().site == "alpha"
    assert AnacondaAuthSitesConfig().default_site == "alpha"


def test_environment_beats_the_site_table(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config_toml(home, SITES)
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_ID", "env-id")
    assert AnacondaAuthConfig(site="alpha").client_id == "env-id"
    assert AnacondaAuthConfig(site="alpha").ssl_verify is False


def test_unknown_site_names_the_config_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config_toml(home, SITES)
    with pytest.raises(UnknownSiteName) as err:
        AnacondaAuthConfig(site="delta")
    message = str(err.value)
    assert message.startswith("The site or domain delta has not been configured in")  # 0.15's words
    assert "~/.anaconda/config.toml" in message
    assert "alpha, beta, gamma site" in message
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "delta")
    with pytest.raises(UnknownSiteName, match="selected by ANACONDA_DEFAULT_SITE"):
        AnacondaAuthConfig()
    with pytest.raises(UnknownSiteName, match="~/.anaconda/config.toml"):
        AnacondaAuthSitesConfig.load_site("delta")


def test_anaconda_com_is_the_implicit_site(home: Path) -> None:
    sites = AnacondaAuthSitesConfig()
    assert sites.default_site == "anaconda.com"
    assert list(sites.sites.root) == ["anaconda.com"]
    assert AnacondaAuthConfig(site="anaconda.com").domain == "anaconda.com"
    with pytest.raises(UnknownSiteName):
        AnacondaAuthConfig(site="other")


def test_a_domain_shared_by_two_sites(home: Path) -> None:
    write_config_toml(
        home,
        """
        [sites.one]
        domain = "same.example"
        client_id = "one"
        [sites.two]
        domain = "same.example"
        client_id = "two"
        """,
    )
    assert AnacondaAuthConfig(domain="same.example").client_id == "one"  # the default site
    write_config_toml(
        home,
        config_toml(home).read_text() + '[sites.three]\ndomain = "x.example"\n',
    )
    (home / "t.toml").write_text(config_toml(home).read_text() + 'default_site = "three"\n')
    text = 'default_site = "three"\n' + config_toml(home).read_text()
    write_config_toml(home, text)
    with pytest.raises(ConfigError, match="matches more than one configured site"):
        AnacondaAuthConfig(domain="same.example")
    assert AnacondaAuthConfig(site="two").client_id == "two"


def test_bad_value_in_a_site_table_names_the_table(home: Path) -> None:
    write_config_toml(home, '[sites.alpha]\ndomain = "a.example"\nssl_verify = "/missing/ca.pem"\n')
    expected = "~/.anaconda/config.toml [sites.alpha] ssl_verify"
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("[", r"\[")):
        AnacondaAuthConfig()
    with pytest.raises(ConfigError, match=r"\[sites.alpha\] ssl_verify: the CA bundle"):
        AnacondaAuthSitesConfig()


def test_sites_config_api(home: Path) -> None:
    write_config_toml(home, SITES)
    sites = AnacondaAuthSitesConfig()
    assert sites.default_site == "beta"
    assert {n: s.domain for n, s in sites.sites.root.items()} == {
        "alpha": "alpha.example.com",
        "beta": "beta.example.com",
        "gamma site": "gamma.example.com",
    }
    assert all(s.site == n for n, s in sites.sites.root.items())
    assert AnacondaAuthSitesConfig.all_sites() == ["alpha", "beta", "gamma site"]
    default = AnacondaAuthSitesConfig.load_site()
    assert isinstance(default, AnacondaAuthConfig)
    assert (default.site, default.client_id, default.hash_hostname) == ("beta", "beta-id", False)
    assert AnacondaAuthSitesConfig.load_site("alpha.example.com").site == "alpha"
    assert sites.sites.find("https://alpha.example.com/") == "alpha"
    assert sites.sites["alpha"].client_id == "alpha-id"
    assert dict(sites.sites.items())["beta"].client_id == "beta-id"
    assert (
        len(sites.sites) == 3 and "alpha" in sites.sites and list(sites.sites) == sites.all_sites()
    )
    sites.add(AnacondaAuthSite(domain="delta.example"), name="delta")
    assert sites.sites.root["delta"].site == "delta"
    sites.remove("beta.example.com")
    assert "beta" not in sites.sites and sites.default_site == "alpha"


def test_sites_config_is_not_a_singleton(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = AnacondaAuthSitesConfig()
    write_config_toml(home, SITES)
    second = AnacondaAuthSitesConfig()
    assert first is not second
    assert first.default_site == "anaconda.com" and second.default_site == "beta"
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "alpha")
    assert AnacondaAuthSitesConfig().default_site == "alpha"
    assert AnacondaAuthSitesConfig(default_site="gamma site").default_site == "gamma site"


def test_anaconda_cli_base_builds_login_at_from_the_sites(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from anaconda_cli_base.plugins import _load_auth_handler

    write_config_toml(home, SITES)
    app = typer.Typer()
    handlers: dict[str, typer.Typer] = {}
    selectors: list[tuple[str, str]] = []
    _load_auth_handler(app, "auth", handlers, selectors)
    assert set(handlers) == {"auth", "alpha", "beta", "gamma site"}
    assert selectors == [
        ("alpha", "alpha (alpha.example.com)"),
        ("beta", "beta (beta.example.com) [cyan]\\[default][/cyan]"),
        ("gamma site", "gamma site (gamma.example.com)"),
    ]
    # `anaconda login --at alpha`: anaconda-cli-base sets the variable, then dispatches
    monkeypatch.setitem(os.environ, "ANACONDA_DEFAULT_SITE", "alpha")
    config = AnacondaAuthConfig()
    assert (config.site, config.domain, config.ssl_verify) == ("alpha", "alpha.example.com", False)


def test_anaconda_cli_base_with_no_sites(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from anaconda_cli_base.plugins import _load_auth_handler

    selectors: list[tuple[str, str]] = []
    _load_auth_handler(typer.Typer(), "auth", {}, selectors)
    assert selectors == [("anaconda.com", "anaconda.com [cyan]\\[default][/cyan]")]
    monkeypatch.setenv("ANACONDA_DEFAULT_SITE", "anaconda.com")
    assert AnacondaAuthConfig().domain == "anaconda.com"


# --- explain ------------------------------------------------------------------------------------


def test_explain_masks_secrets(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-0123456789"
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", secret)
    write_config_toml(
        home,
        f"""
        [plugin.auth]
        proxy_servers = {{ https = "http://user:{secret}@proxy:3128", http = "http://proxy:80" }}
        [plugin.auth.extra_headers]
        Authorization = "Bearer {secret}"
        X-Api-Key = "{secret}"
        X-Plain = "visible"
        """,
    )
    rows = {r.key: r for r in explain()}
    assert rows["api_key"].value == MASK and rows["api_key"].masked
    assert rows["api_key"].location == "ANACONDA_AUTH_API_KEY"
    assert rows["extra_headers"].value == {
        "Authorization": MASK,
        "X-Api-Key": MASK,
        "X-Plain": "visible",
    }
    assert rows["proxy_servers"].value == {
        "https": f"http://user:{MASK}@proxy:3128",
        "http": "http://proxy:80",
    }
    assert rows["preferred_token_storage"].value == "anaconda-keyring"
    assert not rows["preferred_token_storage"].masked
    assert rows["keyring_path"].value == str(home / ".anaconda" / "keyring")
    assert secret not in repr(rows)
    assert [r.key for r in explain()] == list(FIELD_NAMES)


def test_explain_takes_the_same_arguments(home: Path) -> None:
    write_config_toml(home, SITES)
    rows = {r.key: r for r in explain(site="alpha")}
    assert rows["site"].source == "explicit"
    assert rows["client_id"].value == "alpha-id"
    assert rows["client_id"].location == "~/.anaconda/config.toml [sites.alpha] client_id"
    assert rows["hash_hostname"].location == "~/.anaconda/config.toml [plugin.auth] hash_hostname"
    assert rows["use_device_flow"].location == "default"
    assert rows["domain"].value == "alpha.example.com"


# --- nothing stale ------------------------------------------------------------------------------


def test_environment_changes_are_seen_at_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("one.example", "two.example", "three.example"):
        monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", value)
        assert AnacondaAuthConfig().domain == value
    monkeypatch.delenv("ANACONDA_AUTH_DOMAIN")
    assert AnacondaAuthConfig().domain == "anaconda.com"


def test_file_changes_are_seen_at_once(home: Path) -> None:
    # same size, rewritten within the same second: the racy-timestamp rule re-reads it
    for value in ("aaa.example", "bbb.example", "ccc.example"):
        write_config_toml(home, f'[plugin.auth]\ndomain = "{value}"\n')
        write_dotenv(home, f"ANACONDA_AUTH_CLIENT_ID={value}\n")
        write_secret(home, "ANACONDA_AUTH_REDIRECT_URI", f"http://{value}/cb")
        config = AnacondaAuthConfig()
        assert (config.domain, config.client_id, config.redirect_uri) == (
            value,
            value,
            f"http://{value}/cb",
        )
    config_toml(home).unlink()
    (home / ".env").unlink()
    assert AnacondaAuthConfig().domain == "anaconda.com"
    assert AnacondaAuthConfig().client_id == DEFAULT_CLIENT_ID


def test_unchanged_files_are_parsed_once(home: Path) -> None:
    path = write_config_toml(home, '[plugin.auth]\ndomain = "cached.example"\n')
    set_old_mtime(path)
    first = _paths.read_config_toml(path)
    assert _paths.read_config_toml(path) is first
    env = write_dotenv(home, "ANACONDA_AUTH_DOMAIN=x\n")
    set_old_mtime(env)
    assert _paths.read_dotenv(env) is _paths.read_dotenv(env)


def test_a_rewrite_keeping_size_and_mtime_is_still_seen(home: Path) -> None:
    path = write_config_toml(home, '[plugin.auth]\ndomain = "one.example"\n')
    stamp = set_old_mtime(path)
    assert AnacondaAuthConfig().domain == "one.example"
    path.write_text('[plugin.auth]\ndomain = "two.example"\n')  # same size
    set_old_mtime(path, stamp)  # and the same mtime: the ctime still differs
    assert AnacondaAuthConfig().domain == "two.example"


def test_building_a_config_is_cheap(home: Path) -> None:
    write_config_toml(home, SITES)
    write_dotenv(home, "ANACONDA_AUTH_DOMAIN=x.example\n")
    set_old_mtime(config_toml(home))
    set_old_mtime(home / ".env")
    AnacondaAuthConfig()
    start = time.perf_counter()
    for _ in range(200):
        AnacondaAuthConfig()
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.005, f"{per_call * 1e6:.0f} µs per AnacondaAuthConfig()"


def test_importing_config_stays_light() -> None:
    # anaconda-cli-base imports the module and lists the sites on every `anaconda` start
    code = (
        "import sys, anaconda_auth.config;"
        "anaconda_auth.config.AnacondaAuthSitesConfig().sites.root.items();"
        "heavy = {'requests', 'pluggy', 'anaconda_auth.manager', 'typer', 'rich', 'keyring',"
        " 'cryptography', 'pydantic_settings', 'anaconda_auth.exceptions'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_warnings_for_a_clean_config(home: Path) -> None:
    write_config_toml(home, SITES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AnacondaAuthConfig()
        AnacondaAuthSitesConfig()


def test_readme_documents_every_key() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    for name in FIELD_NAMES:
        assert f"| `{name}` |" in section and f"`ANACONDA_AUTH_{name.upper()}`" in section, name
    assert str(AnacondaAuthSite().client_id) in section


def test_a_config_toml_symlink_loop_is_a_config_error(home: Path) -> None:
    path = home / ".anaconda" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path)  # points at itself: stat fails with ELOOP
    with pytest.raises(ConfigError, match="Cannot read .*config.toml"):
        AnacondaAuthConfig()
