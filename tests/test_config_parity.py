"""Configuration parity with anaconda-auth 0.15.3.

0.15 read its configuration with pydantic-settings: ``${VAR}`` in ``.env`` (python-dotenv),
``__``-nested names for table fields, ``ANACONDA_AUTH_*`` names in any case, and the legacy
``ANACONDA_CLOUD_*`` names in the environment, ``.env`` and the secrets directory. Real files,
the real environment, and (where the reference venv is given) the real 0.15.3 side by side.
"""

from __future__ import annotations

import json
import os
import textwrap
import warnings
from pathlib import Path

import pytest
from support.config_files import write_config_toml
from support.processes import run_python

from anaconda_auth.config import AnacondaAuthConfig, explain
from anaconda_auth.config.model import AnacondaCloudConfig

LEGACY_015_START = (
    "The following fields have been set using legacy environment variables prefixed with "
    "'ANACONDA_CLOUD_` or in the `plugins.cloud` section of `~/.anaconda/config.toml`: "
)


def _origin(key: str) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        row = next(r for r in explain() if r.key == key)
    return row.source, row.location


def _secrets(home: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Path:
    directory = home / "secrets"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(directory))
    return directory


# --- 1. ${VAR} in .env ----------------------------------------------------------------------------


def test_dotenv_values_expand_variables(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARITY_HOST", "proxy.example")
    (isolated_home / ".env").write_text(
        textwrap.dedent(
            """\
            TENANT=acme
            ANACONDA_AUTH_CLIENT_ID="${TENANT}-client"
            ANACONDA_AUTH_PROXY_SERVERS={"https": "http://${PARITY_HOST}:3128"}
            ANACONDA_AUTH_LOGIN_SUCCESS_PATH=/ok/${UNSET_PARITY_VAR:-fallback}
            ANACONDA_AUTH_LOGIN_ERROR_PATH=/err/$TENANT
            """
        ),
        encoding="utf-8",
    )
    config = AnacondaAuthConfig()
    assert config.client_id == "acme-client"  # a name set earlier in the file
    assert config.proxy_servers == {"https": "http://proxy.example:3128"}  # the environment
    assert config.login_success_path == "/ok/fallback"  # ${VAR:-default}
    assert config.login_error_path == "/err/$TENANT"  # no braces: as written (python-dotenv)
    assert _origin("client_id") == ("dotenv", "~/.env line 2: ANACONDA_AUTH_CLIENT_ID")


def test_a_changed_variable_is_seen_by_the_next_configuration(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo's fingerprint holds the whole environment, so ${VAR} is covered."""
    (isolated_home / ".env").write_text("ANACONDA_AUTH_DOMAIN=${PARITY_DOMAIN}\n", encoding="utf-8")
    old = os.stat(isolated_home / ".env").st_mtime - 10
    os.utime(isolated_home / ".env", (old, old))  # old enough to be memoised
    monkeypatch.setenv("PARITY_DOMAIN", "one.example")
    assert AnacondaAuthConfig().domain == "one.example"
    assert AnacondaAuthConfig().domain == "one.example"
    monkeypatch.setenv("PARITY_DOMAIN", "two.example")
    assert AnacondaAuthConfig().domain == "two.example"


def test_python_dotenv_is_imported_only_for_a_reference(isolated_home: Path) -> None:
    code = """
        import sys
        from anaconda_auth.config import AnacondaAuthConfig
        print(AnacondaAuthConfig().domain, "dotenv" in sys.modules)
    """
    env = {**os.environ}
    (isolated_home / ".env").write_text("ANACONDA_AUTH_DOMAIN=plain.example\n")
    out = run_python(code, env, cwd=isolated_home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["plain.example", "False"]
    (isolated_home / ".env").write_text("D=ref.example\nANACONDA_AUTH_DOMAIN=${D}\n")
    out = run_python(code, env, cwd=isolated_home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ref.example", "True"]


# --- 2. __-nested names ---------------------------------------------------------------------------


def test_nested_environment_names_set_table_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_PROXY_SERVERS__HTTPS", "http://proxy.example:3128")
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS__X_TEAM", "blue")
    monkeypatch.setenv("ANACONDA_AUTH_OIDC_REQUEST_HEADERS__USER_AGENT", "probe/1")
    config = AnacondaAuthConfig()
    assert config.proxy_servers == {"https": "http://proxy.example:3128"}
    assert config.extra_headers == {"x_team": "blue"}  # lower-cased, as 0.15 did
    assert config.oidc_request_headers == {"user_agent": "probe/1"}
    assert _origin("proxy_servers") == ("environment", "ANACONDA_AUTH_PROXY_SERVERS__HTTPS")


def test_nested_names_merge_over_the_whole_table_of_the_same_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "ANACONDA_AUTH_PROXY_SERVERS", json.dumps({"http": "http://a:1", "https": "http://a:2"})
    )
    monkeypatch.setenv("ANACONDA_AUTH_PROXY_SERVERS__HTTPS", "http://b:3")
    config = AnacondaAuthConfig()
    assert config.proxy_servers == {"http": "http://a:1", "https": "http://b:3"}
    source, location = _origin("proxy_servers")
    assert source == "environment"
    assert "ANACONDA_AUTH_PROXY_SERVERS," in location and "__HTTPS" in location


def test_nested_names_in_dotenv_and_secrets(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_home / ".env").write_text(
        "ANACONDA_AUTH_EXTRA_HEADERS__X_FROM_DOTENV=1\n", encoding="utf-8"
    )
    assert AnacondaAuthConfig().extra_headers == {"x_from_dotenv": "1"}
    _secrets(isolated_home, monkeypatch, {"ANACONDA_AUTH_PROXY_SERVERS__HTTP": "http://s:1"})
    config = AnacondaAuthConfig()
    assert config.proxy_servers == {"http": "http://s:1"}
    assert _origin("proxy_servers")[0] == "secrets-dir"


def test_a_nested_name_of_a_plain_field_is_not_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN__X", "ignored.example")
    assert AnacondaAuthConfig().domain == "anaconda.com"


# --- 3. names in any case -------------------------------------------------------------------------


def test_lower_case_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("anaconda_auth_domain", "lower.example")
    assert AnacondaAuthConfig().domain == "lower.example"
    assert _origin("domain") == ("environment", "anaconda_auth_domain")


def test_the_upper_case_spelling_wins(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("anaconda_auth_domain", "lower.example")
    monkeypatch.setenv("Anaconda_Auth_Domain", "mixed.example")
    assert AnacondaAuthConfig().domain == "mixed.example"  # first in code-point order
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "upper.example")
    assert AnacondaAuthConfig().domain == "upper.example"
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "")  # empty counts as unset
    assert AnacondaAuthConfig().domain == "mixed.example"


def test_lower_case_names_in_dotenv(isolated_home: Path) -> None:
    (isolated_home / ".env").write_text(
        "anaconda_auth_domain=lower.example\nANACONDA_AUTH_CLIENT_ID=upper\n"
        "anaconda_auth_client_id=lower\n",
        encoding="utf-8",
    )
    config = AnacondaAuthConfig()
    assert (config.domain, config.client_id) == ("lower.example", "upper")
    assert _origin("domain") == ("dotenv", "~/.env line 1: anaconda_auth_domain")


# --- 4. legacy ANACONDA_CLOUD_* secret files ------------------------------------------------------


def test_legacy_secret_files_are_read_with_0_15_warning(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = _secrets(isolated_home, monkeypatch, {"ANACONDA_CLOUD_DOMAIN": "legacy.example"})
    with pytest.warns(DeprecationWarning) as caught:
        config = AnacondaAuthConfig()
    assert config.domain == "legacy.example"
    assert _origin("domain") == ("legacy-env", str(secrets / "ANACONDA_CLOUD_DOMAIN"))
    [message] = [str(w.message) for w in caught]
    assert "rename it to ANACONDA_AUTH_DOMAIN" in message
    assert LEGACY_015_START + '"domain"' in message
    assert "legacy.example" not in message


def test_legacy_secret_files_rank_below_every_modern_name(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _secrets(
        isolated_home,
        monkeypatch,
        {"ANACONDA_CLOUD_DOMAIN": "legacy.example", "ANACONDA_AUTH_DOMAIN": "modern.example"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # an unused legacy value is quiet
        assert AnacondaAuthConfig().domain == "modern.example"
    (isolated_home / "secrets" / "ANACONDA_AUTH_DOMAIN").unlink()
    write_config_toml(isolated_home, 'default_site = "s"\n[sites.s]\ndomain = "site.example"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert AnacondaAuthConfig().domain == "site.example"  # the site table beats legacy
    monkeypatch.setenv("ANACONDA_CLOUD_CLIENT_ID", "from-env")
    (isolated_home / "secrets" / "ANACONDA_CLOUD_CLIENT_ID").write_text("from-file\n")
    with pytest.warns(DeprecationWarning):
        assert AnacondaAuthConfig().client_id == "from-env"  # legacy: env, then secrets


def test_a_legacy_secret_filled_in_later_is_seen(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo's fingerprint stamps the ANACONDA_CLOUD_* files of the secrets directory: a
    file rewritten in place (the directory unchanged) is seen at once."""
    secrets = _secrets(isolated_home, monkeypatch, {"anaconda_cloud_domain": ""})
    old = os.stat(secrets).st_mtime - 10
    for path in (secrets / "anaconda_cloud_domain", secrets):
        os.utime(path, (old, old))
    assert AnacondaAuthConfig().domain == "anaconda.com"  # empty: unset
    assert AnacondaAuthConfig().domain == "anaconda.com"  # memoised
    (secrets / "anaconda_cloud_domain").write_text("later.example\n")
    os.utime(secrets / "anaconda_cloud_domain", (old + 1, old + 1))  # the directory as it was
    with pytest.warns(DeprecationWarning):
        assert AnacondaAuthConfig().domain == "later.example"


# --- 5. 0.15's deprecation texts ------------------------------------------------------------------


def test_legacy_warnings_hold_0_15_text(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_CLOUD_CLIENT_ID", "x")
    write_config_toml(isolated_home, '[plugin.cloud]\ndomain = "cloud.example"\n')
    with pytest.warns(DeprecationWarning) as caught:
        AnacondaAuthConfig()
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    # 0.15's text first, word for word (warning filters match the start), then our sentence
    assert messages[0].startswith(LEGACY_015_START + '"client_id"\n\nPlease either rename')
    assert messages[0].endswith(
        "\n\nANACONDA_CLOUD_CLIENT_ID is deprecated and will stop working in a future "
        "anaconda-auth; rename it to ANACONDA_AUTH_CLIENT_ID."
    )
    assert messages[1].startswith(LEGACY_015_START + '"domain"')
    assert "\n\n[plugin.cloud] domain in ~/.anaconda/config.toml is deprecated" in messages[1]


def test_the_0_15_warning_filter_silences_legacy_warnings(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filter of the 0.15 suite's pytest configuration (and of code written for 0.15)
    matches the start of the message: with it, a legacy name raises nothing."""
    monkeypatch.setenv("ANACONDA_CLOUD_CLIENT_ID", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings(
            "ignore",
            "The following fields have been set using legacy environment variables",
            DeprecationWarning,
        )
        assert AnacondaAuthConfig().client_id == "x"


def test_anaconda_cloud_config_warning_starts_with_0_15_text() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        AnacondaCloudConfig()
    assert str(caught[0].message).startswith(
        "AnacondaCloudConfig is deprecated, please use AnacondaAuthConfig instead."
    )


# --- 6. keyring_path and the CA bundle ------------------------------------------------------------


def test_keyring_path_is_dumped_as_absolute_text(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumped = AnacondaAuthConfig().model_dump()
    assert dumped["keyring_path"] == str(isolated_home / ".anaconda" / "keyring")
    monkeypatch.chdir(isolated_home)
    config = AnacondaAuthConfig(keyring_path="rel/keyring")
    assert config.keyring_path == Path("rel/keyring")  # the model keeps it relative
    assert config.model_dump()["keyring_path"] == str(isolated_home / "rel" / "keyring")
    # a dump feeds a new model again (BaseClient(site=..., **overrides) does this)
    again = AnacondaAuthConfig(**{**dumped, "site": None})
    assert again.keyring_path == isolated_home / ".anaconda" / "keyring"


def test_a_shared_ca_bundle_setting_can_name_a_per_machine_path(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CA bundle must exist (decision 0027); ~ and $VARS let one config.toml fit all."""
    (isolated_home / "ca.pem").write_text("not checked here\n")
    write_config_toml(isolated_home, '[plugin.auth]\nssl_verify = "${PARITY_CA_DIR}/ca.pem"\n')
    monkeypatch.setenv("PARITY_CA_DIR", str(isolated_home))
    assert AnacondaAuthConfig().ssl_verify == str(isolated_home / "ca.pem")


# --- side by side with the real 0.15.3 ------------------------------------------------------------

REF_VENV = os.environ.get("ANACONDA_AUTH_REF_VENV")


@pytest.mark.skipif(not REF_VENV, reason="ANACONDA_AUTH_REF_VENV (anaconda-auth 0.15.3) not set")
def test_the_same_inputs_give_the_same_values_as_0_15(isolated_home: Path) -> None:
    assert REF_VENV is not None
    (isolated_home / ".env").write_text(
        "TENANT=acme\nANACONDA_AUTH_CLIENT_ID=${TENANT}-id\n"
        "anaconda_auth_login_success_path=/ok/${PARITY_PART:-d}\n"
        "ANACONDA_AUTH_EXTRA_HEADERS__X_TEAM=blue\n",
        encoding="utf-8",
    )
    secrets = isolated_home / "secrets"
    secrets.mkdir()
    (secrets / "ANACONDA_CLOUD_AUTH_DOMAIN_OVERRIDE").write_text("auth.legacy.example\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("ANACONDA_", "CONDA"))
    }
    env.update(
        {
            "HOME": str(isolated_home),
            "ANACONDA_SECRETS_DIR": str(secrets),
            "anaconda_auth_domain": "lower.example",
            "ANACONDA_AUTH_PROXY_SERVERS": '{"http": "http://a:1"}',
            "ANACONDA_AUTH_PROXY_SERVERS__HTTPS": "http://b:2",
        }
    )
    code = """
        import json, warnings
        warnings.simplefilter("ignore")
        from anaconda_auth.config import AnacondaAuthConfig
        c = AnacondaAuthConfig()
        keys = ["domain", "auth_domain_override", "client_id", "login_success_path",
                "extra_headers", "proxy_servers", "keyring_path"]
        dumped = c.model_dump()
        print(json.dumps({k: dumped[k] for k in keys}, sort_keys=True))
    """
    ours = run_python(code, env, cwd=isolated_home)
    ref = run_python(code, env, cwd=isolated_home, python=Path(REF_VENV) / "bin" / "python")
    assert ours.returncode == 0, ours.stderr
    assert ref.returncode == 0, ref.stderr
    assert json.loads(ours.stdout.splitlines()[-1]) == json.loads(ref.stdout.splitlines()[-1])
    assert json.loads(ours.stdout.splitlines()[-1])["proxy_servers"] == {
        "http": "http://a:1",
        "https": "http://b:2",
    }


def test_a_reference_that_is_not_a_variable_name_stays_as_written(isolated_home: Path) -> None:
    (isolated_home / ".env").write_text(
        'ANACONDA_AUTH_CLIENT_ID="a${}b${not a name}c${HOME_PARITY_UNSET:-d}"\n', encoding="utf-8"
    )
    assert AnacondaAuthConfig().client_id == "a${}b${not a name}cd"
