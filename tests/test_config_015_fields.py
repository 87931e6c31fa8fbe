"""anaconda-auth 0.15's other configuration behaviour.

* the fields ``keyring``, ``use_unified_repo_api_key``, ``disable_conda_auto_config`` and
  ``env_manager_*``: accepted from every place, typed, shown by ``anaconda auth config``
  (``keyring`` masked), never listed as unknown;
* ``AnacondaAuthConfig.model_config["secrets_dir"]`` (pydantic-settings' setting) points the
  secrets directory elsewhere, and the memo sees it change;
* ``model_dump(exclude_defaults=True)`` leaves the default ``keyring_path`` out;
* tables merge entry by entry across places;
* ``--at`` takes a site name or a domain.

Real files, the real environment, real subprocesses; where the published 0.15.3 is installed
(``support.processes.REF_PYTHON``), the same inputs are given to it and the values compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from support.config_files import write_config_toml
from support.processes import REF_PYTHON, run_python

from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSite, explain, unknown_keys
from anaconda_auth.exceptions import ConfigError


def _age(*paths: Path) -> None:
    """Make files old enough for the memo to trust their stamps (two seconds)."""
    for path in paths:
        old = os.stat(path).st_mtime - 10
        os.utime(path, (old, old))


def _row(key: str, **explicit: Any) -> Any:
    return next(r for r in explain(**explicit) if r.key == key)


def cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anaconda_auth", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        cwd=home,
        timeout=60,
    )


# --- 1. 0.15's fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1.2.3", "=1.2.3"),
        ("==1.2.3", "==1.2.3"),
        (">1.2.3", ">1.2.3"),
        ("<=1.2.3", "<=1.2.3"),
        ("!=1.2", "!=1.2"),
        (" 2.0 ", "=2.0"),
        ("", None),
    ],
)
def test_env_manager_version_becomes_a_match_spec(given: str, expected: str | None) -> None:
    assert AnacondaAuthSite(env_manager_version=given).env_manager_version == expected
    site = AnacondaAuthSite()
    site.env_manager_version = given  # assignment is validated too
    assert site.env_manager_version == expected


def test_the_015_fields_have_015s_defaults() -> None:
    site = AnacondaAuthSite()
    assert site.keyring is None
    assert site.use_unified_repo_api_key is False
    assert site.disable_conda_auto_config is False
    assert site.env_manager_channel == "anaconda-cloud"
    assert site.env_manager_package == "anaconda-env-manager"
    assert site.env_manager_version is None


def test_the_015_fields_come_from_every_place(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(
        isolated_home,
        """
        default_site = "work"
        [sites.work]
        domain = "work.example"
        env_manager_version = "3.1"
        [plugin.auth]
        use_unified_repo_api_key = true
        env_manager_package = "my-env-manager"
        [plugin.auth.keyring."Anaconda Cloud"]
        "work.example" = "a-stored-token"
        """,
    )
    monkeypatch.setenv("ANACONDA_AUTH_DISABLE_CONDA_AUTO_CONFIG", "yes")
    monkeypatch.setenv("anaconda_auth_env_manager_channel", "my-channel")  # any case, as 0.15
    config = AnacondaAuthConfig()
    assert config.keyring == {"Anaconda Cloud": {"work.example": "a-stored-token"}}
    assert config.use_unified_repo_api_key is True
    assert config.disable_conda_auto_config is True
    assert config.env_manager_channel == "my-channel"
    assert config.env_manager_package == "my-env-manager"
    assert config.env_manager_version == "=3.1"
    assert (
        _row("env_manager_version").location
        == "~/.anaconda/config.toml [sites.work] env_manager_version"
    )
    assert unknown_keys() == []


def test_keyring_is_a_secret(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "eyJhbGciOiJub25lIn0.a2V5cmluZy1zZWNyZXQ.c2ln"
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING", json.dumps({"svc": {"user": token}}))
    config = AnacondaAuthConfig()
    assert config.keyring == {"svc": {"user": token}}
    assert token not in repr(config)
    row = _row("keyring")
    assert row.masked and token not in str(row.value)
    assert _row("use_unified_repo_api_key").masked is False  # a bool, not a key

    result = cli(isolated_home, "config", "--json")
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    rows = {r["key"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["keyring"]["masked"] is True
    assert rows["keyring"]["location"] == "ANACONDA_AUTH_KEYRING"
    assert json.loads(result.stdout)["unknown_keys"] == []


def test_a_malformed_keyring_is_an_error_that_hides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING", '{"svc": "secret-token-text"}')
    with pytest.raises(ConfigError) as caught:
        AnacondaAuthConfig()
    message = str(caught.value)
    assert "ANACONDA_AUTH_KEYRING" in message
    assert "secret-token-text" not in message


def test_a_bad_boolean_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_USE_UNIFIED_REPO_API_KEY", "sometimes")
    with pytest.raises(ConfigError, match="ANACONDA_AUTH_USE_UNIFIED_REPO_API_KEY"):
        AnacondaAuthConfig()


# --- 2. aau_token is never read on the import path ------------------------------------------------


def test_anaconda_anon_usage_is_not_imported_by_config_or_client(tmp_path: Path) -> None:
    package = tmp_path / "anaconda_anon_usage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tokens.py").write_text("def token_string():\n    return 'tok'\n")
    code = """
        import sys
        from anaconda_auth.client import BaseClient
        from anaconda_auth.config import AnacondaAuthConfig
        config = AnacondaAuthConfig()
        BaseClient()
        print("anaconda_anon_usage" in sys.modules, config.aau_token)
    """
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(tmp_path)}
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "tok"]


# --- 3. the secrets directory set in code ---------------------------------------------------------


@pytest.mark.parametrize("prefix", ["ANACONDA_AUTH", "ANACONDA_CLOUD"])
def test_model_config_secrets_dir_is_honoured(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    from_env = isolated_home / "env-secrets"
    from_code = isolated_home / "code-secrets"
    for directory, value in ((from_env, "from-env-dir"), (from_code, "from-code-dir")):
        directory.mkdir()
        (directory / f"{prefix}_API_KEY".lower()).write_text(value + "\n")
        _age(directory / f"{prefix}_API_KEY".lower(), directory)
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(from_env))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the ANACONDA_CLOUD_ spelling
        assert AnacondaAuthConfig().api_key == "from-env-dir"
        assert AnacondaAuthConfig().api_key == "from-env-dir"  # memoised (ANACONDA_AUTH)
        monkeypatch.setitem(AnacondaAuthConfig.model_config, "secrets_dir", from_code)
        assert AnacondaAuthConfig().api_key == "from-code-dir"  # the setting wins, at once
        assert _row("api_key").location == str(from_code / f"{prefix}_API_KEY".lower())
        monkeypatch.setitem(AnacondaAuthConfig.model_config, "secrets_dir", str(from_env))
        assert AnacondaAuthConfig().api_key == "from-env-dir"
        monkeypatch.delitem(AnacondaAuthConfig.model_config, "secrets_dir")
        monkeypatch.delenv("ANACONDA_SECRETS_DIR")
        assert AnacondaAuthConfig().api_key is None


# --- 5. keyring_path in dumps ---------------------------------------------------------------------


def test_the_default_keyring_path_is_left_out_of_a_dump_without_defaults(
    isolated_home: Path,
) -> None:
    assert "keyring_path" not in AnacondaAuthSite().model_dump(exclude_defaults=True)
    assert "keyring_path" not in AnacondaAuthConfig().model_dump(exclude_defaults=True)
    dumped = AnacondaAuthSite().model_dump()
    assert dumped["keyring_path"] == str(isolated_home / ".anaconda" / "keyring")  # ~ now
    again = AnacondaAuthSite.model_validate(dumped)
    assert "keyring_path" not in again.model_dump(exclude_defaults=True)
    custom = AnacondaAuthSite(keyring_path="~/elsewhere/keyring")
    assert custom.model_dump(exclude_defaults=True) == {
        "keyring_path": str(isolated_home / "elsewhere" / "keyring")
    }
    assert json.loads(custom.model_dump_json())["keyring_path"] == str(
        isolated_home / "elsewhere" / "keyring"
    )


# --- 9. tables merge across places ----------------------------------------------------------------


def test_tables_merge_entry_by_entry_across_places(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(
        isolated_home,
        """
        [sites.work]
        domain = "work.example"
        [sites.work.extra_headers]
        X-Site = "site"
        x-team = "from-site"
        [plugin.auth.extra_headers]
        X-Plugin = "plugin"
        X-Team = "from-plugin"
        [plugin.auth.proxy_servers]
        http = "http://plugin:1"
        https = "http://plugin:2"
        """,
    )
    monkeypatch.setenv("ANACONDA_AUTH_PROXY_SERVERS__HTTPS", "http://env:3")
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-TEAM": "from-env"}')
    config = AnacondaAuthConfig()
    # a higher place's entry wins (header names in any case); the others are kept
    assert config.proxy_servers == {"http": "http://plugin:1", "https": "http://env:3"}
    assert config.extra_headers == {"X-Site": "site", "X-Plugin": "plugin", "X-TEAM": "from-env"}
    row = _row("extra_headers")
    assert (row.source, row.location) == (
        "environment",
        "ANACONDA_AUTH_EXTRA_HEADERS, ~/.anaconda/config.toml [sites.work] extra_headers, "
        "~/.anaconda/config.toml [plugin.auth] extra_headers",
    )
    # explicit arguments merge over the configured table too, as 0.15's init arguments did
    assert AnacondaAuthConfig(proxy_servers={"ftp": "http://arg:4"}).proxy_servers == {
        "ftp": "http://arg:4",
        "http": "http://plugin:1",
        "https": "http://env:3",
    }
    # a lower table whose entries are all overridden leaves the origin alone
    monkeypatch.delenv("ANACONDA_AUTH_PROXY_SERVERS__HTTPS")
    monkeypatch.setenv("ANACONDA_AUTH_PROXY_SERVERS", '{"http": "h", "https": "s"}')
    assert _row("proxy_servers").location == "ANACONDA_AUTH_PROXY_SERVERS"


def test_a_malformed_table_in_a_lower_place_is_still_reported(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_home / ".env").write_text("ANACONDA_AUTH_EXTRA_HEADERS={not json\n")
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-A": "a"}')
    # not mergeable: the higher place's table is used as it is (0.15 failed to parse it)
    assert AnacondaAuthConfig().extra_headers == {"X-A": "a"}
    monkeypatch.delenv("ANACONDA_AUTH_EXTRA_HEADERS")
    with pytest.raises(ConfigError, match=r"\.env"):
        AnacondaAuthConfig()


def test_a_legacy_table_that_adds_entries_warns(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(isolated_home, '[plugin.cloud.extra_headers]\nX-Old = "old"\n')
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-New": "new"}')
    with pytest.warns(DeprecationWarning, match="^The following fields have been set"):
        config = AnacondaAuthConfig()
    assert config.extra_headers == {"X-New": "new", "X-Old": "old"}
    with pytest.warns(DeprecationWarning):  # not memoised: it warns every time
        AnacondaAuthConfig()


# --- 8. --at takes a site name or a domain --------------------------------------------------------


@pytest.mark.parametrize("at", ["beta", "beta.example", "https://beta.example/"])
def test_auth_config_at_takes_a_name_or_a_domain(isolated_home: Path, at: str) -> None:
    write_config_toml(
        isolated_home,
        """
        default_site = "alpha"
        [sites.alpha]
        domain = "alpha.example"
        [sites.beta]
        domain = "beta.example"
        client_id = "beta-client"
        """,
    )
    result = cli(isolated_home, "config", "--at", at, "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["key"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["site"]["value"] == "beta"
    assert rows["domain"]["value"] == "beta.example"
    assert rows["client_id"]["value"] == "beta-client"


def test_auth_config_at_an_unknown_domain_is_refused(isolated_home: Path) -> None:
    write_config_toml(isolated_home, '[sites.alpha]\ndomain = "alpha.example"\n')
    result = cli(isolated_home, "config", "--at", "nowhere.example")
    assert result.returncode == 1
    assert "nowhere.example" in result.stderr
    assert "alpha" in result.stderr  # the configured names are offered


# --- side by side with the published 0.15.3 -------------------------------------------------------

SIDE_BY_SIDE = """
    import json, warnings
    warnings.simplefilter("ignore")
    from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSite
    c = AnacondaAuthConfig()
    keys = ["keyring", "use_unified_repo_api_key", "env_manager_channel", "env_manager_package",
            "env_manager_version", "extra_headers", "proxy_servers"]
    dumped = c.model_dump()
    out = {k: dumped[k] for k in keys}
    out["excluded"] = sorted(AnacondaAuthSite().model_dump(exclude_defaults=True))
    print(json.dumps(out, sort_keys=True))
"""


@pytest.mark.skipif(
    REF_PYTHON is None, reason="the published anaconda-auth 0.15.3 is not installed"
)
def test_the_same_inputs_give_the_same_values_as_0_15(isolated_home: Path) -> None:
    assert REF_PYTHON is not None
    write_config_toml(
        isolated_home,
        """
        [plugin.auth]
        use_unified_repo_api_key = true
        env_manager_version = "1.2.3"
        [plugin.auth.keyring.svc]
        user = "pw"
        [plugin.auth.extra_headers]
        X-Plugin = "plugin"
        [plugin.auth.proxy_servers]
        http = "http://plugin:1"
        """,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("ANACONDA_", "CONDA"))
    }
    env.update(
        {
            "HOME": str(isolated_home),
            "ANACONDA_AUTH_ENV_MANAGER_PACKAGE": "pkg",
            "ANACONDA_AUTH_EXTRA_HEADERS": '{"X-Env": "env"}',
            "ANACONDA_AUTH_PROXY_SERVERS__HTTPS": "http://env:2",
        }
    )
    ours = run_python(SIDE_BY_SIDE, env, cwd=isolated_home)
    ref = run_python(SIDE_BY_SIDE, env, cwd=isolated_home, python=REF_PYTHON)
    assert ours.returncode == 0, ours.stderr
    assert ref.returncode == 0, ref.stderr
    mine = json.loads(ours.stdout.splitlines()[-1])
    assert mine == json.loads(ref.stdout.splitlines()[-1])
    assert mine["proxy_servers"] == {"http": "http://plugin:1", "https": "http://env:2"}
    assert mine["env_manager_version"] == "=1.2.3"


def test_variables_read_elsewhere_are_not_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_TIMEOUT", "5")  # the system keyring's bound
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PASSPHRASE", "not-shown")
    monkeypatch.setenv("ANACONDA_AUTH_KEYRNG_PATH", "/typo")
    assert [row.key for row in unknown_keys()] == ["keyrng_path"]


@pytest.mark.parametrize("site", [1, 2.5, ["work"]])
def test_a_site_that_is_not_a_name_is_an_unknown_site(site: Any) -> None:
    """As 0.15 (``BaseClient(site=1)`` raised ``UnknownSiteName``)."""
    from anaconda_auth.client import BaseClient
    from anaconda_auth.exceptions import UnknownSiteName

    with pytest.raises(UnknownSiteName, match="is not a site name"):
        AnacondaAuthConfig(site=site)
    with pytest.raises(UnknownSiteName):
        BaseClient(site=site)


def test_a_legacy_table_whose_entries_are_all_overridden_is_quiet(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config_toml(isolated_home, '[plugin.cloud.extra_headers]\nx-old = "old"\n')
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", '{"X-Old": "new"}')
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert AnacondaAuthConfig().extra_headers == {"X-Old": "new"}
