"""The same scripts under the published anaconda-auth 0.15.3 and under this package.

Each test writes the same throwaway HOME (``config.toml``, ``.env``, stored tokens) and runs a
script through the public API under both: 0.15.3 from its own virtual environment
(``support.processes.REF_PYTHON``: ``$ANACONDA_AUTH_REF_VENV/bin/python``, else
``/tmp/ref015/bin/python``; ``dev/test.sh`` makes one) and this package (``sys.executable``).
The results must be equal, except where we differ on purpose; each of those differences is
asserted explicitly and listed in README.md
("Compatibility with 0.15").
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anaconda_auth.plugins.testing.ca import create_tls_files
from anaconda_auth.storage_backends.anaconda_keyring import ENVELOPE_SERVICE
from support.https_server import EchoServer
from support.processes import REF_PYTHON, run_python
from support.tokens import jwt as _jwt

pytestmark = pytest.mark.skipif(
    REF_PYTHON is None,
    reason="the published anaconda-auth 0.15.3 is not installed: set ANACONDA_AUTH_REF_VENV to "
    "a venv with anaconda-auth==0.15.3 (dev/test.sh creates one) or create /tmp/ref015",
)


# --------------------------------------------------------------------------------------------
# Running a script under both versions
# --------------------------------------------------------------------------------------------

PRELUDE = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
import importlib.util
OURS = importlib.util.find_spec("anaconda_auth.storage") is not None
def plain(value):
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
def emit(value):
    print("RESULT " + json.dumps(plain(value), sort_keys=True), flush=True)
def stored_value(domain):
    # the raw base64 value stored for domain: the plaintext file of 0.15.3, our storage API
    if OURS:
        from anaconda_auth.storage import access as token_storage
        from anaconda_auth.config import AnacondaAuthConfig
        found = token_storage.read("Anaconda Cloud", domain, AnacondaAuthConfig())
        return found[0] if found else None
    import keyring
    return keyring.get_password("Anaconda Cloud", domain)
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> Any:
        lines = [line for line in self.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, f"no result (exit {self.returncode}):\n{self.stderr[-3000:]}"
        return json.loads(lines[-1][len("RESULT ") :])


def _env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANACONDA_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        ANACONDA_SECRETS_DIR=str(home / "no-secrets"),
        ANACONDA_CLI_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONDONTWRITEBYTECODE="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def run(python: Path | str, script: str, home: Path, env: Mapping[str, str] = {}) -> Run:
    proc = run_python(
        PRELUDE + textwrap.dedent(script),
        _env(home, env),
        python=python,
        timeout=120,
        cwd=home,  # outside either site-packages
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_ref(script: str, home: Path, env: Mapping[str, str] = {}) -> Run:
    assert REF_PYTHON is not None
    return run(REF_PYTHON, script, home, env)


def run_ours(script: str, home: Path, env: Mapping[str, str] = {}) -> Run:
    return run(sys.executable, script, home, env)


def both(script: str, home: Path, env: Mapping[str, str] = {}) -> tuple[Any, Any]:
    """The results of ``script`` under 0.15.3 and under ours, run side by side."""
    with ThreadPoolExecutor(2) as pool:
        ref = pool.submit(run_ref, script, home, env)
        ours = pool.submit(run_ours, script, home, env)
        return ref.result().result, ours.result().result


def write(home: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def jwt(exp: float, **claims: Any) -> str:
    return _jwt(exp, sub="u", **claims)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

CONFIG_SCRIPT = """
from anaconda_auth.config import AnacondaAuthConfig
c = AnacondaAuthConfig()
keys = ["site", "domain", "auth_domain_override", "ssl_verify", "api_key", "client_id",
        "redirect_uri", "openid_config_path", "login_success_path", "login_error_path",
        "extra_headers", "proxy_servers", "client_cert", "client_cert_key", "hash_hostname",
        "preferred_token_storage", "keyring_path", "use_device_flow"]
out = {k: getattr(c, k) for k in keys}
out.update(auth_domain=c.auth_domain, well_known_url=c.well_known_url,
           login_success_url=c.login_success_url, login_error_url=c.login_error_url)
emit(out)
"""

#: Where we differ from 0.15.3 on purpose in every configuration (README: use_device_flow).
ALWAYS_DIFFERENT = {"use_device_flow"}

CONFIG_CASES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "defaults": ({}, {}),
    "domain as a URL with a port and a path": (
        {},
        {"ANACONDA_AUTH_DOMAIN": "https://example.com:8443/some/path"},
    ),
    "domain as http URL, auth domain override as URL": (
        {},
        {
            "ANACONDA_AUTH_DOMAIN": "http://plain.example.com",
            "ANACONDA_AUTH_AUTH_DOMAIN_OVERRIDE": "https://auth.example.com/",
        },
    ),
    "[plugin.auth] values of every type": (
        {
            ".anaconda/config.toml": """
                [plugin.auth]
                auth_domain_override = "auth.toml.example.com"
                ssl_verify = false
                client_id = "toml-client"
                hash_hostname = false
                preferred_token_storage = "system"
                login_success_path = "/ok"
                [plugin.auth.extra_headers]
                X-Team = "data"
                [plugin.auth.proxy_servers]
                https = "http://proxy.example:3128"
                """
        },
        {},
    ),
    "environment over .env over [plugin.auth]": (
        {
            ".anaconda/config.toml": """
                [plugin.auth]
                client_id = "from-toml"
                redirect_uri = "http://127.0.0.1:1/toml"
                login_error_path = "/toml-error"
                """,
            ".env": """
                ANACONDA_AUTH_CLIENT_ID=from-dotenv
                ANACONDA_AUTH_REDIRECT_URI=http://127.0.0.1:2/dotenv
                """,
        },
        {"ANACONDA_AUTH_CLIENT_ID": "from-env"},
    ),
    "ssl_verify 0 from the environment": ({}, {"ANACONDA_AUTH_SSL_VERIFY": "0"}),
    "ssl_verify 1 from the environment": ({}, {"ANACONDA_AUTH_SSL_VERIFY": "1"}),
    "ssl_verify truststore": ({}, {"ANACONDA_AUTH_SSL_VERIFY": "truststore"}),
    "ssl_verify a CA bundle path": (
        {"ca.pem": "not really a certificate\n"},
        {"ANACONDA_AUTH_SSL_VERIFY": "{home}/ca.pem"},
    ),
    "extra_headers and proxy_servers as JSON strings": (
        {},
        {
            "ANACONDA_AUTH_EXTRA_HEADERS": '{"X-Team": "data", "X-Other": "1"}',
            "ANACONDA_AUTH_PROXY_SERVERS": '{"https": "http://proxy:3128"}',
        },
    ),
    "booleans from the environment": (
        {},
        {"ANACONDA_AUTH_HASH_HOSTNAME": "0"},
    ),
    "keyring_path with ~ and $VAR": (
        {},
        {"ANACONDA_AUTH_KEYRING_PATH": "~/${KR_DIR}/keyring", "KR_DIR": "tokens"},
    ),
    "api_key from the environment": ({}, {"ANACONDA_AUTH_API_KEY": "the-configured-key"}),
    "legacy ANACONDA_CLOUD_* and [plugin.cloud], no conflict": (
        {
            ".anaconda/config.toml": """
                [plugin.cloud]
                client_id = "cloud-client"
                """
        },
        {"ANACONDA_CLOUD_SSL_VERIFY": "0", "ANACONDA_CLOUD_LOGIN_ERROR_PATH": "/cloud-error"},
    ),
    "legacy ANACONDA_CLOUD_* below the modern variable": (
        {},
        {"ANACONDA_CLOUD_DOMAIN": "cloud.example.com", "ANACONDA_AUTH_DOMAIN": "auth.example"},
    ),
}


def _case(home: Path, name: str) -> dict[str, str]:
    files, env = CONFIG_CASES[name]
    write(home, files)
    return {k: v.replace("{home}", str(home)) for k, v in env.items()}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_config_resolves_alike(isolated_home: Path, name: str) -> None:
    env = _case(isolated_home, name)
    ref, ours = both(CONFIG_SCRIPT, isolated_home, env)
    for key in ALWAYS_DIFFERENT:
        ref.pop(key), ours.pop(key)
    assert ours == ref


def test_use_device_flow_default_differs_on_purpose(isolated_home: Path) -> None:
    ref, ours = both(CONFIG_SCRIPT, isolated_home)
    assert (ref["use_device_flow"], ours["use_device_flow"]) == (True, False)
    write(isolated_home, {".anaconda/config.toml": "[plugin.auth]\nuse_device_flow = true\n"})
    ref, ours = both(CONFIG_SCRIPT, isolated_home)
    assert ref["use_device_flow"] is ours["use_device_flow"] is True


@pytest.mark.parametrize("word", ["false", "False", "no"])
def test_ssl_verify_words_are_booleans_here(isolated_home: Path, word: str) -> None:
    """0.15.3 kept ``"false"`` as a string (requests then took it for a CA bundle path)."""
    ref, ours = both(CONFIG_SCRIPT, isolated_home, {"ANACONDA_AUTH_SSL_VERIFY": word})
    assert (ref["ssl_verify"], ours["ssl_verify"]) == (word, False)


def test_empty_values_count_as_unset_here(isolated_home: Path) -> None:
    ref, ours = both(CONFIG_SCRIPT, isolated_home, {"ANACONDA_AUTH_SSL_VERIFY": ""})
    assert (ref["ssl_verify"], ours["ssl_verify"]) == ("", True)


def test_credentials_in_a_domain_url_are_dropped_here(isolated_home: Path) -> None:
    env = {"ANACONDA_AUTH_DOMAIN": "https://user:pw@example.com/"}
    ref, ours = both(CONFIG_SCRIPT, isolated_home, env)
    assert (ref["domain"], ours["domain"]) == ("user:pw@example.com", "example.com")


def test_site_name_follows_a_domain_from_plugin_auth_here(isolated_home: Path) -> None:
    """Without site tables, 0.15.3 named the site after the domain when the domain came from
    the environment, but "anaconda.com" (the implicit site) when it came from [plugin.auth]."""
    write(isolated_home, {".anaconda/config.toml": '[plugin.auth]\ndomain = "toml.example"\n'})
    ref, ours = both(CONFIG_SCRIPT, isolated_home)
    assert ref["domain"] == ours["domain"] == "toml.example"
    assert (ref["site"], ours["site"]) == ("anaconda.com", "toml.example")
    ref, ours = both(CONFIG_SCRIPT, isolated_home, {"ANACONDA_AUTH_DOMAIN": "env.example"})
    assert ref["site"] == ours["site"] == "env.example"


def test_plugin_auth_beats_plugin_cloud_here(isolated_home: Path) -> None:
    """0.15.3 let the deprecated [plugin.cloud] table win over [plugin.auth]."""
    write(
        isolated_home,
        {
            ".anaconda/config.toml": """
                [plugin.cloud]
                client_id = "cloud-client"
                [plugin.auth]
                client_id = "auth-client"
                """
        },
    )
    ref, ours = both(CONFIG_SCRIPT, isolated_home)
    assert (ref["client_id"], ours["client_id"]) == ("cloud-client", "auth-client")


def test_both_warn_about_legacy_names(isolated_home: Path) -> None:
    script = """
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from anaconda_auth.config import AnacondaAuthConfig
        c = AnacondaAuthConfig()
    emit({"domain": c.domain, "deprecations": [
        str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)
        and "ANACONDA_CLOUD" in str(w.message)]})
    """
    ref, ours = both(script, isolated_home, {"ANACONDA_CLOUD_DOMAIN": "cloud.example"})
    assert ref["domain"] == ours["domain"] == "cloud.example"
    assert ref["deprecations"] and ours["deprecations"]
    assert "ANACONDA_AUTH_DOMAIN" in ours["deprecations"][0]  # names the modern variable


SITES_SCRIPT = """
from anaconda_auth.config import AnacondaAuthConfig, AnacondaAuthSitesConfig
sites = AnacondaAuthSitesConfig()
c = AnacondaAuthConfig()
out = {
    "default_site": sites.default_site,
    "names": list(sites.sites.root),
    "domains": {name: site.domain for name, site in sites.sites.root.items()},
    "config": [c.site, c.domain, c.ssl_verify, c.client_id],
    "load_site": AnacondaAuthSitesConfig.load_site().domain,
    "all_sites": AnacondaAuthSitesConfig.all_sites(),
}
for name in list(sites.sites.root):
    s = AnacondaAuthConfig(site=name)
    out["site:" + name] = [s.site, s.domain, s.ssl_verify, s.client_id]
    out["getitem:" + name] = sites.sites[name].domain
emit(out)
"""

SITES_TOML = """
default_site = "{default}"

[sites.alpha]
domain = "alpha.example.com"
ssl_verify = false

[sites.beta]
domain = "beta.example.com"
client_id = "beta-client"

[plugin.auth]
client_id = "shared-client"
"""


@pytest.mark.parametrize(
    ("default", "env"),
    [
        ("alpha", {}),
        ("beta", {}),
        ("beta.example.com", {}),  # default_site may name a domain
        ("alpha", {"ANACONDA_DEFAULT_SITE": "beta"}),
        ("alpha", {"ANACONDA_DEFAULT_SITE": "beta.example.com"}),
        ("alpha", {"ANACONDA_AUTH_DOMAIN": "beta.example.com"}),  # a domain selects its site
        ("alpha", {"ANACONDA_AUTH_SITE": "beta"}),
    ],
)
def test_sites_are_selected_alike(isolated_home: Path, default: str, env: dict[str, str]) -> None:
    write(isolated_home, {".anaconda/config.toml": SITES_TOML.replace("{default}", default)})
    ref, ours = both(SITES_SCRIPT, isolated_home, env)
    chosen = env.get("ANACONDA_DEFAULT_SITE", default)
    if "." in chosen:
        # a default given as a domain: 0.15.3 kept the domain, so anaconda-cli-base marked no
        # site as the default; we resolve it to the site's name
        assert (ref.pop("default_site"), ours.pop("default_site")) == (chosen, "beta")
    assert ours == ref


def test_no_site_tables_means_one_implicit_site(isolated_home: Path) -> None:
    ref, ours = both(SITES_SCRIPT, isolated_home)
    assert ours == ref
    assert ours["names"] == ["anaconda.com"]


# --------------------------------------------------------------------------------------------
# Stored tokens
# --------------------------------------------------------------------------------------------

SAVE_SCRIPT = """
from anaconda_auth.token import RepoToken, TokenInfo
spec = json.loads(os.environ["TOKEN_SPEC"])
info = TokenInfo(domain=spec["domain"], api_key=spec.get("api_key"),
                 username=spec.get("username"),
                 repo_tokens=[RepoToken(**t) for t in spec.get("repo_tokens", [])])
info.save()
emit(stored_value(spec["domain"]))
"""


@pytest.mark.parametrize(
    "spec",
    [
        {
            "domain": "example.com",
            "api_key": "key-1",
            "username": "someone@example.com",
            "repo_tokens": [{"org_name": "org", "token": "repo-1"}, {"token": "no-org"}],
        },
        {"domain": "example.com", "api_key": "key-2"},  # None fields are left out
        {"domain": "example.com:8443"},  # no key at all
    ],
)
def test_tokeninfo_is_stored_as_the_same_base64_json(
    isolated_home: Path, tmp_path: Path, spec: dict[str, Any]
) -> None:
    ref_home, our_home = tmp_path / "ref-home", tmp_path / "our-home"
    ref_home.mkdir(), our_home.mkdir()
    env = {"TOKEN_SPEC": json.dumps(spec)}
    ref = run_ref(SAVE_SCRIPT, ref_home, env).result
    ours = run_ours(SAVE_SCRIPT, our_home, env).result
    assert ours == ref  # byte for byte
    decoded = json.loads(base64.b64decode(ours))
    assert decoded["version"] == 2
    assert "username" not in decoded or decoded["username"] == spec.get("username")


LOAD_SCRIPT = """
from anaconda_auth.token import TokenInfo
info = TokenInfo.load(os.environ["DOMAIN"])
emit({"domain": info.domain, "api_key": info.api_key, "username": info.username,
      "repo_tokens": [t.model_dump() for t in info.repo_tokens], "version": info.version,
      "source": getattr(info, "source", None)})
"""


def test_a_token_saved_by_015_is_loaded_here_and_still_by_015(isolated_home: Path) -> None:
    env = {
        "TOKEN_SPEC": json.dumps(
            {
                "domain": "example.com",
                "api_key": jwt(time.time() + 3600),
                "username": "old@example.com",
                "repo_tokens": [{"org_name": "org", "token": "repo"}],
            }
        )
    }
    run_ref(SAVE_SCRIPT, isolated_home, env).result  # noqa: B018 - asserts it ran
    keyring_file = isolated_home / ".anaconda" / "keyring"
    plaintext = keyring_file.read_bytes()
    assert json.loads(plaintext)["Anaconda Cloud"].keys() == {"example.com"}

    ref, ours = both(LOAD_SCRIPT, isolated_home, {"DOMAIN": "example.com"})
    assert ours.pop("source") == "anaconda-keyring"
    ref.pop("source")
    assert ours == ref
    assert keyring_file.read_bytes() == plaintext  # reading never rewrites: 0.15.3 still can


def test_a_legacy_domain_token_of_015_is_migrated_here(isolated_home: Path) -> None:
    key = jwt(time.time() + 3600)
    spec = {"domain": "anaconda.cloud", "api_key": key, "username": "old@example.com"}
    run_ref(SAVE_SCRIPT, isolated_home, {"TOKEN_SPEC": json.dumps(spec)}).result  # noqa: B018
    ours = run_ours(LOAD_SCRIPT, isolated_home, {"DOMAIN": "anaconda.com"}).result
    assert (ours["domain"], ours["api_key"], ours["username"]) == (
        "anaconda.com",
        key,
        "old@example.com",
    )


EXPIRED_SCRIPT = """
from anaconda_auth.token import TokenInfo
keys = json.loads(os.environ["KEYS"])
emit({name: TokenInfo(domain="example.com", api_key=key).expired for name, key in keys.items()})
"""


def _keys(now: float) -> dict[str, str]:
    return {
        "an hour ago": jwt(now - 3600),
        "in an hour": jwt(now + 3600),
        "in a year": jwt(now + 365 * 86400),
        "a year ago": jwt(now - 365 * 86400),
    }


@pytest.mark.parametrize("tz", ["UTC0", "XST12", "XST-12"])
def test_expiry_of_keys_far_from_now_agrees_in_any_time_zone(isolated_home: Path, tz: str) -> None:
    keys = {k: v for k, v in _keys(time.time()).items() if "year" in k}
    ref, ours = both(EXPIRED_SCRIPT, isolated_home, {"KEYS": json.dumps(keys), "TZ": tz})
    assert ours == ref == {"in a year": False, "a year ago": True}


def test_expiry_agrees_in_utc(isolated_home: Path) -> None:
    keys = _keys(time.time())
    ref, ours = both(EXPIRED_SCRIPT, isolated_home, {"KEYS": json.dumps(keys), "TZ": "UTC0"})
    assert ours == ref
    assert ours == {
        "an hour ago": True,
        "in an hour": False,
        "in a year": False,
        "a year ago": True,
    }


@pytest.mark.parametrize(
    ("tz", "key", "ref_says"), [("XST5", "in 2h", True), ("XST-5", "2h ago", False)]
)
def test_expiry_uses_utc_here_whatever_the_time_zone(
    isolated_home: Path, tz: str, key: str, ref_says: bool
) -> None:
    """0.15.3 read ``exp`` as local time: west of UTC keys expired early, east of it late."""
    now = time.time()
    keys = {"in 2h": jwt(now + 7200), "2h ago": jwt(now - 7200)}
    ref, ours = both(EXPIRED_SCRIPT, isolated_home, {"KEYS": json.dumps(keys), "TZ": tz})
    assert ours == {"in 2h": False, "2h ago": True}
    assert ref[key] is ref_says and ours[key] is not ref_says


def test_a_key_that_is_not_a_jwt(isolated_home: Path) -> None:
    """0.15.3 raised a pyjwt DecodeError; here the server decides (not expired)."""
    env = {"KEYS": json.dumps({"opaque": "not-a-jwt"})}
    ref = run_ref(EXPIRED_SCRIPT, isolated_home, env)
    assert ref.returncode != 0 and "DecodeError" in ref.stderr
    assert run_ours(EXPIRED_SCRIPT, isolated_home, env).result == {"opaque": False}


# --------------------------------------------------------------------------------------------
# BaseClient against a local HTTPS server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_tls_files(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: Any) -> Iterator[Any]:
    with EchoServer(pki) as srv:
        yield srv


CLIENT_SCRIPT = """
from anaconda_auth.client import BaseClient, client_factory
spec = json.loads(os.environ["CLIENT_SPEC"])
class PackageClient(BaseClient):
    _user_agent = "package/1.2"
    _api_version = "2024-06"
kinds = {"base": BaseClient, "subclass": PackageClient}
if spec["kind"] == "factory":
    client = client_factory(*spec["args"])
else:
    client = kinds[spec["kind"]](**spec.get("kwargs", {}))
out = {"type": type(client).__name__, "domain": client.config.domain,
       "joined": client.urljoin("/api/x?y=1")}
for label, url, extra in spec["requests"]:
    response = client.get(url, **extra)
    out[label] = {k.lower(): v for k, v in response.json()["headers"].items()
                  if k.lower() in ("user-agent", "api-version", "x-client-hostname",
                                   "authorization", "x-team")}
emit(out)
"""


def _client_env(server: Any, pki: Any, spec: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "CLIENT_SPEC": json.dumps(spec),
        "ANACONDA_AUTH_DOMAIN": server.netloc,
        "ANACONDA_AUTH_SSL_VERIFY": str(pki.ca_path),
        **extra,
    }


def _same_version(result: dict[str, Any]) -> dict[str, Any]:
    """The default User-Agent names each package's own version: compare it without."""
    text = re.sub(r"anaconda-auth/[0-9][^\s\"]*", "anaconda-auth/<version>", json.dumps(result))
    value: dict[str, Any] = json.loads(text)
    return value


REQUESTS = [
    ["relative", "/api/echo", {}],
    ["absolute", "{url}/api/echo", {}],
    ["no auth", "/api/echo", {"auth": False}],
]


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "base"},
        {"kind": "subclass"},
        {"kind": "factory", "args": ["factory-agent/3", "2025-01"]},
        {"kind": "factory", "args": [None]},
        {"kind": "base", "kwargs": {"api_key": "explicit-key", "user_agent": "explicit/1"}},
        {"kind": "base", "kwargs": {"hash_hostname": False, "api_version": "7"}},
        {"kind": "base", "kwargs": {"extra_headers": '{"X-Team": "data"}'}},
        {"kind": "subclass", "kwargs": {"extra_headers": {"X-Team": "data", "User-Agent": "no"}}},
    ],
)
def test_client_requests_carry_the_same_headers(
    isolated_home: Path, server: Any, pki: Any, spec: dict[str, Any]
) -> None:
    spec = {**spec, "requests": [[a, b.replace("{url}", server.url), c] for a, b, c in REQUESTS]}
    ref, ours = both(CLIENT_SCRIPT, isolated_home, _client_env(server, pki, spec))
    assert _same_version(ours) == _same_version(ref)
    assert len(ours["relative"]["x-client-hostname"]) in (22, len(socket.gethostname()))


def test_a_token_stored_by_015_is_sent_by_both(isolated_home: Path, server: Any, pki: Any) -> None:
    key = jwt(time.time() + 3600)
    spec_token = {"domain": server.netloc, "api_key": key}
    run_ref(SAVE_SCRIPT, isolated_home, {"TOKEN_SPEC": json.dumps(spec_token)}).result  # noqa: B018
    spec = {"kind": "subclass", "requests": [["relative", "/api/echo", {}]]}
    ref, ours = both(CLIENT_SCRIPT, isolated_home, _client_env(server, pki, spec))
    assert _same_version(ours) == _same_version(ref)
    assert ours["relative"]["authorization"] == f"Bearer {key}"


def test_the_token_is_not_sent_to_other_hosts_here(
    isolated_home: Path, server: Any, pki: Any
) -> None:
    """0.15.3 sent the API key with any absolute URL; we send it only to the configured site."""
    other = f"https://localhost:{server.port}/api/echo"  # the same server under another name
    spec = {
        "kind": "base",
        "kwargs": {"api_key": "explicit-key"},
        "requests": [["site", "/api/echo", {}], ["other", other, {}]],
    }
    ref, ours = both(CLIENT_SCRIPT, isolated_home, _client_env(server, pki, spec))
    assert ref["site"]["authorization"] == ours["site"]["authorization"] == "Bearer explicit-key"
    assert ref["other"]["authorization"] == "Bearer explicit-key"
    assert "authorization" not in ours["other"]


# --------------------------------------------------------------------------------------------
# Downgrading, or 0.15.3 in another environment: it meets our encrypted keyring
# --------------------------------------------------------------------------------------------

REF_STEPS = {
    "load": "from anaconda_auth.token import TokenInfo\nTokenInfo.load('example.com')",
    "save": (
        "from anaconda_auth.token import TokenInfo\n"
        "TokenInfo(domain='other.example', api_key='k').save()"
    ),
    "logout": "from anaconda_auth import logout\nlogout()",
    "client": (
        "from anaconda_auth.client import BaseClient\n"
        "BaseClient(domain='example.com').prepare_request(__import__('requests').Request("
        "'GET', '/api/x'))"
    ),
}


@pytest.fixture
def upgraded_home(isolated_home: Path) -> Path:
    """A home where the new version logged in: the encrypted keyring and its key file."""
    spec = {"domain": "example.com", "api_key": jwt(time.time() + 3600), "username": "u"}
    run_ours(SAVE_SCRIPT, isolated_home, {"TOKEN_SPEC": json.dumps(spec)}).result  # noqa: B018
    assert (isolated_home / ".anaconda" / "keyring.key").exists()
    return isolated_home


@pytest.mark.parametrize("step", list(REF_STEPS))
def test_015_parses_our_keyring_and_never_loses_it(upgraded_home: Path, step: str) -> None:
    """0.15.3 reads the file as JSON, finds no login of ours in it (our keyring is encrypted
    under an entry it never asks for) and keeps that entry when it writes its own."""
    keyring_file = upgraded_home / ".anaconda" / "keyring"
    sealed = json.loads(keyring_file.read_bytes())[ENVELOPE_SERVICE]
    result = run_ref(REF_STEPS[step] + "\nemit('no error')", upgraded_home)
    assert "DecodeError" not in result.stderr, result.stderr
    if step == "load":
        assert result.returncode != 0 and "TokenNotFoundError" in result.stderr
    else:
        assert result.result == "no error"
    assert json.loads(keyring_file.read_bytes())[ENVELOPE_SERVICE] == sealed
    # and the new version still reads its login, and 0.15.3's
    assert run_ours(LOAD_SCRIPT, upgraded_home, {"DOMAIN": "example.com"}).result["username"] == "u"
    if step == "save":
        other = run_ours(LOAD_SCRIPT, upgraded_home, {"DOMAIN": "other.example"}).result
        assert other["api_key"] == "k"


def test_downgrade_remedy_api_key_in_the_environment(upgraded_home: Path) -> None:
    """``anaconda auth api-key`` before downgrading, then ANACONDA_AUTH_API_KEY: 0.15.3 works
    without touching the encrypted file."""
    key = run_ours(LOAD_SCRIPT, upgraded_home, {"DOMAIN": "example.com"}).result["api_key"]
    before = (upgraded_home / ".anaconda" / "keyring").read_bytes()
    env = {"DOMAIN": "example.com", "ANACONDA_AUTH_DOMAIN": "example.com"}
    ref = run_ref(LOAD_SCRIPT, upgraded_home, {**env, "ANACONDA_AUTH_API_KEY": key})
    assert ref.result["api_key"] == key
    assert (upgraded_home / ".anaconda" / "keyring").read_bytes() == before


def test_downgrade_remedy_move_the_file_aside_and_log_in_again(upgraded_home: Path) -> None:
    anaconda = upgraded_home / ".anaconda"
    shutil.move(anaconda / "keyring", anaconda / "keyring.new")
    new_key = jwt(time.time() + 7200)
    spec = {"domain": "example.com", "api_key": new_key}
    run_ref(SAVE_SCRIPT, upgraded_home, {"TOKEN_SPEC": json.dumps(spec)}).result  # noqa: B018
    assert run_ref(LOAD_SCRIPT, upgraded_home, {"DOMAIN": "example.com"}).result["api_key"] == (
        new_key
    )
    # upgrading again: the plaintext file 0.15.3 wrote is read (and encrypted on the next save)
    assert run_ours(LOAD_SCRIPT, upgraded_home, {"DOMAIN": "example.com"}).result["api_key"] == (
        new_key
    )


SHARED_KEYRING = '''
import json, os
from keyring.backend import KeyringBackend

class SharedFileKeyring(KeyringBackend):
    """A stand-in OS keyring both versions can reach (test only, plaintext)."""
    priority = 1

    def _path(self):
        return os.path.join(os.environ["HOME"], "os-keyring.json")

    def _read(self):
        try:
            with open(self._path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._read().get(service, {}).get(username)

    def set_password(self, service, username, password):
        data = self._read()
        data.setdefault(service, {})[username] = password
        with open(self._path(), "w") as f:
            json.dump(data, f)

    def delete_password(self, service, username):
        data = self._read()
        data.get(service, {}).pop(username)
        with open(self._path(), "w") as f:
            json.dump(data, f)
'''


def test_downgrade_with_the_system_keyring_keeps_the_login(
    isolated_home: Path, tmp_path: Path
) -> None:
    """With ``preferred_token_storage = "system"`` the token lives in the OS keyring, where
    0.15.3 finds it too (here a stand-in keyring backend both versions load)."""
    (tmp_path / "shared_keyring.py").write_text(SHARED_KEYRING)
    write(
        isolated_home,
        {".anaconda/config.toml": '[plugin.auth]\npreferred_token_storage = "system"\n'},
    )
    env = {
        "PYTHONPATH": str(tmp_path),
        "PYTHON_KEYRING_BACKEND": "shared_keyring.SharedFileKeyring",
        "ANACONDA_AUTH_KEYRING_TIMEOUT": "30",
    }
    key = jwt(time.time() + 3600)
    spec = {"domain": "example.com", "api_key": key, "username": "u"}
    run_ours(SAVE_SCRIPT, isolated_home, {**env, "TOKEN_SPEC": json.dumps(spec)}).result  # noqa: B018
    assert not (isolated_home / ".anaconda" / "keyring").exists()
    ref, ours = both(LOAD_SCRIPT, isolated_home, {**env, "DOMAIN": "example.com"})
    assert ref["api_key"] == ours["api_key"] == key
    assert ours["source"] == "system"
