"""Hardening of the configuration: secrets out of every repr, machines without a home directory,
every input error named at load, huge values in ``auth config``, misspelt names reported with
the closest valid one.

Real files, real environment variables, real subprocesses (a user id without a password
database entry, started as root); the fuzz target over every config source is in
test_hardening_config_fuzz.py.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.config_files import write_config_toml, write_dotenv

from anaconda_auth.config import MASK, AnacondaAuthConfig, AnacondaAuthSite
from anaconda_auth.exceptions import AnacondaAuthError, ConfigError, UnknownSiteName

SECRET = "s3cr3t-header-value-0123456789"
PROXY_PASSWORD = "pr0xy-pa55w0rd-9876"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    """``python -m anaconda_auth ARGS`` (the standalone ``anaconda auth``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "anaconda_auth", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


# --- item 5: repr() and str() never show a secret -----------------------------------------------


def _assert_masked(text: str) -> None:
    assert SECRET not in text
    assert PROXY_PASSWORD not in text
    assert MASK in text


def test_repr_and_str_of_the_configuration_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ANACONDA_AUTH_EXTRA_HEADERS",
        json.dumps({"X-Api-Key": SECRET, "Authorization": f"Bearer {SECRET}", "X-Team": "blue"}),
    )
    monkeypatch.setenv(
        "ANACONDA_AUTH_PROXY_SERVERS",
        json.dumps({"https": f"http://me:{PROXY_PASSWORD}@proxy:3128"}),
    )
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING", json.dumps({"svc": {"user": SECRET}}))
    monkeypatch.setenv("ANACONDA_AUTH_API_KEY", SECRET)
    config = AnacondaAuthConfig()
    assert config.extra_headers is not None and config.extra_headers["X-Api-Key"] == SECRET
    for text in (repr(config), str(config), f"{config!r}", f"{config}"):
        _assert_masked(text)
        assert "X-Team': 'blue'" in text  # not a secret: shown
        assert "http://me:********@proxy:3128" in text  # the proxy, without its password

    from rich.pretty import pretty_repr

    _assert_masked(pretty_repr(config))


def test_repr_of_a_site_and_of_the_sites_masks_secrets(isolated_home: Path) -> None:
    write_config_toml(
        isolated_home,
        f"""
        [sites.corp]
        domain = "corp.example"
        extra_headers = {{ X-Api-Key = "{SECRET}" }}
        proxy_servers = {{ https = "http://me:{PROXY_PASSWORD}@proxy:3128" }}
        """,
    )
    from anaconda_auth.config import AnacondaAuthSitesConfig

    sites = AnacondaAuthSitesConfig()
    _assert_masked(repr(sites))
    _assert_masked(str(sites.sites))
    _assert_masked(repr(sites.sites["corp"]))
    site = AnacondaAuthSite(extra_headers={"X-Api-Key": SECRET})
    assert SECRET not in repr(site) and SECRET not in str(site)


def test_repr_of_a_clients_configuration_masks_secrets() -> None:
    from anaconda_auth.client import BaseClient

    client = BaseClient(
        domain="example.test",
        api_key="k",
        extra_headers={"X-Api-Key": SECRET},
        proxy_servers={"https": f"http://me:{PROXY_PASSWORD}@proxy:3128"},
    )
    _assert_masked(repr(client.config))
    _assert_masked(str(client.config))


# --- item 7: machines without a home directory --------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANACONDA_CONFIG_TOML", "~nosuchuser-hc/config.toml"),
        ("ANACONDA_AUTH_KEYRING_PATH", "~nosuchuser-hc/keyring"),
        ("ANACONDA_AUTH_SSL_VERIFY", "~nosuchuser-hc/ca.pem"),
        ("ANACONDA_SECRETS_DIR", "~nosuchuser-hc/secrets"),
    ],
)
def test_a_path_that_cannot_be_expanded_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert variable in message
    assert "~nosuchuser-hc" in message and "no user named" in message


def _uid_without_passwd_entry() -> int:
    for uid in range(12345, 12445):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    pytest.skip("no free user id")


@pytest.fixture
def homeless() -> Iterator[tuple[dict[str, Any], Path]]:
    """How to run a child (``setpriv`` as a user id with no password database entry, without
    HOME) and its (world-writable) working directory."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as a user id without a passwd entry")
    uid = _uid_without_passwd_entry()
    workdir = Path(tempfile.mkdtemp(prefix="hc-nohome-"))
    workdir.chmod(0o777)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOME", "USERPROFILE", "XDG_CACHE_HOME", "COV_CORE_SOURCE")
        and not k.startswith("ANACONDA_")
    }
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable]
    kwargs = {"prefix": prefix, "env": env, "cwd": workdir}
    try:
        yield kwargs, workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_as(
    homeless: dict[str, Any], args: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*homeless["prefix"], *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**homeless["env"], **env},
        cwd=homeless["cwd"],
    )


def test_no_home_an_api_key_from_the_environment_just_works(
    homeless: tuple[dict[str, Any], Path],
) -> None:
    kwargs, workdir = homeless
    code = """
        import os, requests
        assert "HOME" not in os.environ
        from anaconda_auth.client import BaseClient
        client = BaseClient(domain="example.test")
        request = client.prepare_request(requests.Request("GET", "https://example.test/api/x"))
        print(request.headers["Authorization"])
        print(repr(client.config))
        """
    out = _run_as(kwargs, ["-c", textwrap.dedent(code)], ANACONDA_AUTH_API_KEY="the-env-key")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "Bearer the-env-key"
    assert "Could not determine home directory" not in out.stderr
    # nothing was created relative to the working directory (a folder literally named "~")
    assert list(workdir.iterdir()) == []


def test_no_home_the_keyring_says_what_is_missing_and_writes_nothing(
    homeless: tuple[dict[str, Any], Path],
) -> None:
    kwargs, workdir = homeless
    code = """
        from anaconda_auth.exceptions import AnacondaAuthError
        from anaconda_auth.storage import access
        from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend
        status = {s.name: s for s in access.storage_status()}["anaconda-keyring"]
        print(status.available, status.reason)
        backend = AnacondaKeyringBackend()
        try:
            backend.set_password("svc", "user", "pw")
        except AnacondaAuthError as exc:
            print(f"{type(exc).__name__}: {exc}")
        else:
            print("stored")
        from anaconda_auth.storage.keyring_015 import AnacondaKeyring
        print(AnacondaKeyring.viable)  # keyring asks every backend: no exception
        """
    out = _run_as(kwargs, ["-c", textwrap.dedent(code)])
    assert out.returncode == 0, out.stderr
    available, refused, viable = out.stdout.splitlines()
    assert viable == "False"
    assert available.startswith("False ") and "keyring_path ~/.anaconda/keyring" in available
    assert refused.startswith("ConfigError: Cannot use keyring_path ~/.anaconda/keyring: ~")
    assert "HOME is not set" in refused
    assert list(workdir.iterdir()) == []


def test_no_home_cli_config_shows_the_settings(homeless: tuple[dict[str, Any], Path]) -> None:
    kwargs, workdir = homeless
    out = _run_as(kwargs, ["-m", "anaconda_auth", "config", "--json"], ANACONDA_AUTH_API_KEY="k")
    assert out.returncode == 0, out.stderr
    rows = {row["key"]: row for row in json.loads(out.stdout)["settings"]}
    assert rows["api_key"]["masked"] is True
    assert "Traceback" not in out.stderr
    assert list(workdir.iterdir()) == []


def test_no_home_writing_config_toml_names_what_to_set(
    homeless: tuple[dict[str, Any], Path],
) -> None:
    kwargs, _ = homeless
    code = """
        from anaconda_auth.config.files import config_toml_path
        from anaconda_auth.exceptions import ConfigError
        try:
            config_toml_path()
        except ConfigError as exc:
            print(exc)
        """
    out = _run_as(kwargs, ["-c", textwrap.dedent(code)])
    assert out.returncode == 0, out.stderr
    assert "HOME" in out.stdout and "ANACONDA_CONFIG_TOML" in out.stdout


# --- item 8: every config input error names its source, at load ---------------------------------


def test_config_toml_that_is_not_utf8_names_the_file_and_line(isolated_home: Path) -> None:
    path = write_config_toml(isolated_home, "[plugin.auth]\n")
    path.write_bytes(b'[plugin.auth]\ndomain = "caf\xe9.example"\n')
    with pytest.raises(ConfigError, match=r"config\.toml is not UTF-8 text: byte 0xe9 on line 2"):
        AnacondaAuthConfig()


def test_config_toml_nested_too_deeply_names_the_file(isolated_home: Path) -> None:
    write_config_toml(isolated_home, "[plugin.auth]\nextra_headers = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match=r"config\.toml .*nested too deeply"):
        AnacondaAuthConfig()


@pytest.mark.parametrize("key", ["extra_headers", "proxy_servers", "keyring", "disabled_plugins"])
def test_json_nested_too_deeply_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    depth = 20000
    deep = '{"a":' * depth + "1" + "}" * depth if key != "disabled_plugins" else "[" * depth
    variable = f"ANACONDA_AUTH_{key.upper()}"
    monkeypatch.setenv(variable, deep)
    with pytest.raises(AnacondaAuthError) as err:  # ConfigError; PluginError for plugins
        AnacondaAuthConfig()
    assert variable in str(err.value) or key in str(err.value)
    assert "nested too deeply" in str(err.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", "0", "-3"])
@pytest.mark.parametrize("key", ["http_timeout", "login_timeout"])
def test_timeouts_must_be_finite_and_sensible(isolated_home: Path, key: str, value: str) -> None:
    write_config_toml(isolated_home, f"[plugin.auth]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert f"Invalid {key} from ~/.anaconda/config.toml [plugin.auth] {key}" in message
    assert "at most 86400" in message


def test_a_long_timeout_within_the_bound_is_kept(isolated_home: Path) -> None:
    write_config_toml(isolated_home, "[plugin.auth]\nhttp_timeout = 3600\nlogin_timeout = 86400\n")
    config = AnacondaAuthConfig()
    assert (config.http_timeout, config.login_timeout) == (3600, 86400)


@pytest.mark.parametrize("value", ["Bearer \u20ac-euro", "\u2603", "caf\u00e9 \U0001f600"])
def test_header_values_http_cannot_carry_are_rejected_naming_the_header(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", json.dumps({"X-Api-Key": value}))
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert "Invalid extra_headers from ANACONDA_AUTH_EXTRA_HEADERS" in message
    assert "'X-Api-Key'" in message and "Latin-1" in message
    assert value not in message  # a header value may be a secret


def test_latin1_header_values_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", json.dumps({"X-Name": "caf\u00e9"}))
    assert AnacondaAuthConfig().extra_headers == {"X-Name": "caf\u00e9"}


def test_header_value_with_leading_white_space_is_rejected(isolated_home: Path) -> None:
    write_config_toml(isolated_home, '[plugin.auth]\nextra_headers = { X-Team = " blue" }\n')
    with pytest.raises(ConfigError, match=r"\[plugin.auth\] extra_headers.*starts with white"):
        AnacondaAuthConfig()


def test_unknown_site_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_SITE", "nope")
    with pytest.raises(UnknownSiteName) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert message.startswith("The site or domain nope has not been configured")  # 0.15's words
    assert "ANACONDA_AUTH_SITE" in message


def test_unknown_site_from_dotenv_names_the_line(isolated_home: Path) -> None:
    write_dotenv(isolated_home, "ANACONDA_AUTH_SITE=nope\n")
    with pytest.raises(UnknownSiteName, match=r"selected by ~/\.env line 1: ANACONDA_AUTH_SITE"):
        AnacondaAuthConfig()


@pytest.mark.parametrize("where", ["environment", "config-toml", "explicit"])
def test_client_cert_key_without_client_cert_names_its_source(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path, where: str
) -> None:
    explicit: dict[str, Any] = {}
    if where == "environment":
        monkeypatch.setenv("ANACONDA_AUTH_CLIENT_CERT_KEY", "/etc/key.pem")
        expected = "ANACONDA_AUTH_CLIENT_CERT_KEY"
    elif where == "config-toml":
        write_config_toml(isolated_home, '[plugin.auth]\nclient_cert_key = "/etc/key.pem"\n')
        expected = "~/.anaconda/config.toml [plugin.auth] client_cert_key"
    else:
        explicit = {"client_cert_key": "/etc/key.pem"}
        expected = "the client_cert_key= argument"
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig(**explicit)
    assert f"Invalid client_cert_key from {expected}: it is set but client_cert is not" in str(
        err.value
    )


def test_client_cert_with_its_key_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_CERT", "/etc/cert.pem")
    monkeypatch.setenv("ANACONDA_AUTH_CLIENT_CERT_KEY", "/etc/key.pem")
    config = AnacondaAuthConfig()
    assert (config.client_cert, config.client_cert_key) == ("/etc/cert.pem", "/etc/key.pem")


def test_dotenv_starting_with_a_bom_is_read(isolated_home: Path) -> None:
    (isolated_home / ".env").write_bytes(
        b"\xef\xbb\xbfANACONDA_AUTH_DOMAIN=bom.example\r\nANACONDA_AUTH_USE_DEVICE_FLOW=1\r\n"
    )
    config = AnacondaAuthConfig()
    assert config.domain == "bom.example"
    assert config.use_device_flow is True


def test_secret_file_starting_with_a_bom_is_read(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    secrets = isolated_home / "secrets"
    secrets.mkdir()
    (secrets / "ANACONDA_AUTH_DOMAIN").write_bytes(b"\xef\xbb\xbfsecret.example\n")
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(secrets))
    assert AnacondaAuthConfig().domain == "secret.example"


def test_dotenv_that_is_not_utf8_names_the_file_and_line(isolated_home: Path) -> None:
    (isolated_home / ".env").write_bytes(b"OTHER=1\nANACONDA_AUTH_DOMAIN=caf\xe9.example\n")
    with pytest.raises(ConfigError, match=r"~/\.env is not UTF-8 text: byte 0xe9 on line 2"):
        AnacondaAuthConfig()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_config_toml_is_refused_not_waited_on(isolated_home: Path) -> None:
    path = isolated_home / ".anaconda" / "config.toml"
    path.parent.mkdir()
    os.mkfifo(path)
    code = """
        from anaconda_auth.config import AnacondaAuthConfig
        from anaconda_auth.exceptions import ConfigError
        try:
            AnacondaAuthConfig()
        except ConfigError as exc:
            print(exc)
        """
    try:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO as config.toml blocked")
    assert "config.toml: it is not a regular file" in out.stdout, out.stderr
    assert stat.S_ISFIFO(path.stat().st_mode)  # left as it was


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("ANACONDA_AUTH_SSL_VERIFY", "Invalid ssl_verify from ANACONDA_AUTH_SSL_VERIFY: the CA"),
        ("ANACONDA_SECRETS_DIR", "Cannot read the secrets directory"),
        ("ANACONDA_CONFIG_TOML", "Cannot read"),
    ],
)
def test_a_path_the_system_cannot_examine_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, expected: str
) -> None:
    monkeypatch.setenv(variable, "/" + "a" * 5000)  # longer than any file name may be
    with pytest.raises(ConfigError) as err:
        AnacondaAuthConfig()
    message = str(err.value)
    assert expected in message
    assert len(message) < 1000  # the 5000-character value is cut


# --- item 9: `anaconda auth config` with huge values ---------------------------------------------


def test_auth_config_cuts_huge_values(isolated_home: Path) -> None:
    huge = "x" * 1_000_000
    write_config_toml(isolated_home, f'[plugin.auth]\nclient_id = "{huge}"\n')
    result = cli("config")
    assert result.returncode == 0, result.stderr
    assert "(1000000characters;--jsonshowsitall)" in re.sub(r"[\s│]", "", result.stdout)
    assert len(result.stdout) < 20_000
    data = json.loads(cli("config", "--json").stdout)
    assert {r["key"]: r["value"] for r in data["settings"]}["client_id"] == huge


# --- item 10: misspelt names are reported with the closest valid one -----------------------------

TYPOS = """
domain = "top.example"
default-site = "corp"

[plugin.auth]
preferred_token_storage = "sytem"
ssl_verfy = false

[plugin.aut]
domain = "x.example"

[plugins.auth]
use_device_flow = true

[sites.corp]
domain = "corp.example"
hash_hostnme = false

[plugin.other-tool]
setting = 1
"""

EXPECTED_WARNINGS = [
    "unknown setting 'domian' in ANACONDA_AUTH_DOMIAN is ignored (did you mean 'domain'?)",
    "unknown setting 'ssl_verfy' in ~/.anaconda/config.toml [plugin.auth] ssl_verfy is ignored "
    "(did you mean 'ssl_verify'?)",
    "unknown setting 'hash_hostnme' in ~/.anaconda/config.toml [sites.corp] hash_hostnme is "
    "ignored (did you mean 'hash_hostname'?)",
    "unknown setting 'domain' in ~/.anaconda/config.toml (top level) is ignored (did you mean "
    "[plugin.auth] domain?)",
    "unknown setting 'default-site' in ~/.anaconda/config.toml is ignored (did you mean "
    "'default_site'?)",
    "unknown table [plugin.aut] in ~/.anaconda/config.toml is ignored (did you mean "
    "[plugin.auth]?)",
    "unknown table [plugins] in ~/.anaconda/config.toml is ignored (did you mean [plugin.auth]?)",
    "preferred_token_storage 'sytem' from ~/.anaconda/config.toml [plugin.auth] "
    "preferred_token_storage names no installed token storage backend (did you mean "
    "'system'?)",
]


def test_unknown_names_with_the_closest_valid_one(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    from anaconda_auth.config import unknown_names

    write_config_toml(isolated_home, TYPOS)
    monkeypatch.setenv("ANACONDA_AUTH_DOMIAN", "x.example")
    messages = [item.message() for item in unknown_names()]
    assert sorted(messages) == sorted(EXPECTED_WARNINGS)
    assert not any("other-tool" in m for m in messages)  # another tool's table is its own


def test_no_warnings_for_a_clean_configuration(isolated_home: Path) -> None:
    from anaconda_auth.config import unknown_names

    write_config_toml(
        isolated_home,
        """
        default_site = "corp"
        [plugin.auth]
        preferred_token_storage = "system"
        [plugin.cloud]
        [plugin.telemetry]
        enabled = false
        [sites.corp]
        domain = "corp.example"
        """,
    )
    assert unknown_names() == []


@pytest.mark.parametrize("command", ["config", "plugins"])
def test_auth_config_and_plugins_report_misspelt_names(isolated_home: Path, command: str) -> None:
    write_config_toml(isolated_home, TYPOS)
    result = cli(command)
    assert result.returncode == 0, result.stderr
    warnings = " ".join(result.stderr.split())
    for expected in EXPECTED_WARNINGS[1:]:  # (no ANACONDA_AUTH_DOMIAN here)
        assert f"Warning: {expected}." in warnings
    data = json.loads(cli(command, "--json").stdout)
    listed = data["warnings"] if command == "config" else data["config_warnings"]
    assert sorted(listed) == sorted(EXPECTED_WARNINGS[1:])
