"""Compatibility with anaconda-auth 0.15: its public names and call signatures, the deprecated
config sources (``ANACONDA_CLOUD_*``, ``[plugin.cloud]``) and conda's settings.

The names table below is the audit of the 0.15.3 modules; ``tests/test_compat_differential.py``
runs the same scripts under the published 0.15.3 and under this package and compares them.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from support.config_files import write_config_toml
from support.processes import run_python
from support.tokens import jwt

import anaconda_auth
from anaconda_auth import actions, client, config, token
from anaconda_auth.config import AnacondaAuthConfig, explain
from anaconda_auth.exceptions import AuthenticationError, ConfigError, TokenNotFoundError
from anaconda_auth.token import TokenInfo

README = Path(__file__).resolve().parents[1] / "README.md"

# --------------------------------------------------------------------------------------------
# The public names of anaconda-auth 0.15.3, module by module
# --------------------------------------------------------------------------------------------

#: (module, name) -> "kept" (existed in the rewrite), "added" (added for compatibility) or
#: "dropped" (deliberately not carried over; README explains each).
PUBLIC_015: dict[tuple[str, str], str] = {
    ("anaconda_auth", "__version__"): "kept",
    ("anaconda_auth", "login"): "kept",
    ("anaconda_auth", "logout"): "kept",
    ("anaconda_auth", "client_factory"): "kept",
    # client
    ("anaconda_auth.client", "BaseClient"): "kept",
    ("anaconda_auth.client", "client_factory"): "kept",
    ("anaconda_auth.client", "BearerAuth"): "added",
    ("anaconda_auth.client", "login_required"): "added",
    ("anaconda_auth.client", "AnacondaAuthConfig"): "added",
    ("anaconda_auth.client", "AnacondaAuthSite"): "added",
    ("anaconda_auth.client", "TokenInfo"): "added",
    ("anaconda_auth.client", "TokenExpiredError"): "added",
    ("anaconda_auth.client", "TokenNotFoundError"): "added",
    ("anaconda_auth.client", "get_hostname"): "added",
    ("anaconda_auth.client", "HTTPAdapter"): "added",
    # token
    ("anaconda_auth.token", "KEYRING_NAME"): "kept",
    ("anaconda_auth.token", "MIGRATIONS"): "kept",
    ("anaconda_auth.token", "TOKEN_INFO_VERSION"): "kept",
    ("anaconda_auth.token", "RepoToken"): "kept",
    ("anaconda_auth.token", "TokenInfo"): "kept",
    ("anaconda_auth.token", "TokenExpiredError"): "kept",
    ("anaconda_auth.token", "TokenNotFoundError"): "kept",
    ("anaconda_auth.token", "LocalKeyringData"): "added",
    ("anaconda_auth.token", "OrgName"): "added",
    ("anaconda_auth.token", "TokenString"): "added",
    ("anaconda_auth.token", "AnacondaKeyring"): "added",
    ("anaconda_auth.token", "ConfigKeyring"): "added",
    ("anaconda_auth.token", "NavigatorFallback"): "dropped",
    # config
    ("anaconda_auth.config", "AnacondaAuthConfig"): "kept",
    ("anaconda_auth.config", "AnacondaAuthSite"): "kept",
    ("anaconda_auth.config", "AnacondaAuthSitesConfig"): "kept",
    ("anaconda_auth.config", "Sites"): "kept",
    ("anaconda_auth.config", "OpenIDConfiguration"): "added",
    ("anaconda_auth.config", "AnacondaCloudConfig"): "added",
    ("anaconda_auth.config", "AnacondaSettingsSource"): "dropped",
    ("anaconda_auth.config", "AnacondaSiteSettingsSource"): "dropped",
    ("anaconda_auth.config", "AnacondaCloudSettingsSource"): "dropped",
    ("anaconda_auth.config", "CondaContextSettingsSource"): "dropped",
    # exceptions
    ("anaconda_auth.exceptions", "AuthenticationError"): "kept",
    ("anaconda_auth.exceptions", "InvalidTokenError"): "kept",
    ("anaconda_auth.exceptions", "TokenNotFoundError"): "kept",
    ("anaconda_auth.exceptions", "TokenExpiredError"): "kept",
    ("anaconda_auth.exceptions", "LoginRequiredError"): "kept",
    ("anaconda_auth.exceptions", "UnknownSiteName"): "kept",
    ("anaconda_auth.exceptions", "DeviceFlowError"): "kept",
    ("anaconda_auth.exceptions", "DeviceFlowTimeout"): "kept",
    ("anaconda_auth.exceptions", "DeviceFlowDenied"): "kept",
    # actions
    ("anaconda_auth.actions", "login"): "kept",
    ("anaconda_auth.actions", "logout"): "kept",
    ("anaconda_auth.actions", "is_logged_in"): "kept",
    ("anaconda_auth.actions", "get_api_key"): "added",
    ("anaconda_auth.actions", "refresh_access_token"): "added",
    ("anaconda_auth.actions", "request_access_token"): "added",
    ("anaconda_auth.actions", "make_auth_code_request_url"): "added",
    # the 0.15 module of the command line (anaconda-ai imports these two helpers)
    ("anaconda_auth.cli", "app"): "added",
    ("anaconda_auth.cli", "_login_required_message"): "added",
    ("anaconda_auth.cli", "_continue_with_login"): "added",
}


@pytest.mark.parametrize(
    ("module", "name"), sorted(k for k, v in PUBLIC_015.items() if v != "dropped")
)
def test_public_name_of_015_is_importable(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    assert getattr(mod, name) is not None
    exec(f"from {module} import {name}", {})  # the form downstream code uses


def _readme_section() -> str:
    text = README.read_text()
    assert "## Compatibility with 0.15" in text
    return text.split("## Compatibility with 0.15", 1)[1].split("\n## ", 1)[0]


def test_every_dropped_name_is_documented_with_its_reason() -> None:
    section = _readme_section()
    for (module, name), status in PUBLIC_015.items():
        if status == "dropped":
            assert f"`{module.removeprefix('anaconda_auth.')}.{name}`" in section, name


def test_every_added_name_is_listed_in_the_readme() -> None:
    section = _readme_section()
    for (module, name), status in PUBLIC_015.items():
        if status == "added" and module != "anaconda_auth.cli":
            assert name in section, name


def test_removed_keyring_backends_explain_themselves() -> None:
    with pytest.raises(AttributeError, match="not carried over"):
        token.NavigatorFallback  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        token.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_no_keyring_backend_is_registered_globally() -> None:
    """0.15 registered three keyring backends on import; nothing of ours may appear there."""
    code = textwrap.dedent(
        """
        import anaconda_auth, anaconda_auth.client, anaconda_auth.token, anaconda_auth.actions
        from anaconda_auth.manager import get_plugin_manager
        get_plugin_manager().get_storage_backends()
        import keyring.backend
        ours = [c for c in keyring.backend.get_all_keyring()
                if type(c).__module__.startswith("anaconda_auth")]
        ours += [c for c in getattr(keyring.backend.KeyringBackend, "_classes", ())
                 if c.__module__.startswith("anaconda_auth")]
        print(len(ours))
        """
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_dir_of_the_package_lists_the_lazy_names() -> None:
    assert {"login", "logout", "client_factory", "__version__"} <= set(dir(anaconda_auth))


# --------------------------------------------------------------------------------------------
# Signatures: 0.15-style calls bind
# --------------------------------------------------------------------------------------------


def _binds(func: Any, *args: Any, **kwargs: Any) -> None:
    inspect.signature(func).bind(*args, **kwargs)


def test_015_calls_bind_to_our_signatures() -> None:
    site = config.AnacondaAuthSite()
    _binds(anaconda_auth.login, "site", True, force=True)
    _binds(anaconda_auth.login, site=site, ssl_verify="/ca.pem", basic=False, force=False)
    _binds(anaconda_auth.login, config=site)
    _binds(anaconda_auth.logout, "site")
    _binds(anaconda_auth.logout, config=site)
    _binds(anaconda_auth.client_factory, "pkg/1.0", "2024-01")
    _binds(actions.is_logged_in, "site")
    _binds(actions.get_api_key, "access", site)
    _binds(actions.get_api_key, "access", config=site)
    _binds(actions.get_api_key, "access", True)  # the older (access_token, ssl_verify) order
    _binds(actions.refresh_access_token, "refresh", site)
    _binds(actions.request_access_token, "code", "verifier", site)
    _binds(actions.make_auth_code_request_url, "challenge", "state", site)
    _binds(actions.make_auth_code_request_url, "challenge", "state")
    _binds(client.BearerAuth, domain="example.com", api_key="k")
    _binds(client.BearerAuth)
    _binds(client.login_required, requests.Response(), "extra", verify=True)
    _binds(TokenInfo.load, "example.com", create=True)
    _binds(TokenInfo.load)
    _binds(config.AnacondaCloudConfig, raise_deprecation_warning=False, domain="x")
    _binds(
        client.BaseClient,
        site=None,
        base_uri=None,
        domain=None,
        auth_domain_override=None,
        api_key=None,
        user_agent=None,
        api_version=None,
        ssl_verify=None,
        extra_headers=None,
        hash_hostname=None,
        proxy_servers=None,
        client_cert=None,
        client_cert_key=None,
    )
    # and positionally, in 0.15's order
    _binds(client.BaseClient, "site", "https://base", None, None, "key", "ua", "1", True)


def test_config_argument_is_deprecated_but_works(isolated_home: Path) -> None:
    key = jwt(time.time() + 3600)
    site = config.AnacondaAuthSite(domain="deprecated.example", api_key=key)
    with pytest.warns(
        DeprecationWarning,
        match=r"^The config= keyword argument is deprecated, please use site=str \| Anaconda",
    ):
        anaconda_auth.login(config=site)  # a valid key is configured: no login happens
    with pytest.raises(ValueError, match="You cannot set both site= and config= arguments"):
        anaconda_auth.login(site="x", config=site)

    stored = config.AnacondaAuthSite(domain="stored.example")
    TokenInfo(domain="stored.example", api_key=key).save(config=stored)
    with pytest.warns(DeprecationWarning, match="config= keyword"):
        anaconda_auth.logout(config=stored)
    with pytest.raises(TokenNotFoundError):
        TokenInfo.load("stored.example", config=stored)


def test_basic_login_is_refused_before_anything_happens(isolated_home: Path) -> None:
    with pytest.raises(AuthenticationError, match="basic=True"):
        anaconda_auth.login(basic=True)
    assert not (isolated_home / ".anaconda").exists()


# --------------------------------------------------------------------------------------------
# The added names work
# --------------------------------------------------------------------------------------------


def _prepared(url: str = "https://example.com/api") -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_bearer_auth_sends_the_given_or_the_stored_key(isolated_home: Path) -> None:
    assert client.BearerAuth("example.com", api_key="given")(_prepared()).headers[
        "Authorization"
    ] == ("Bearer given")

    auth = client.BearerAuth("example.com")
    assert "Authorization" not in auth(_prepared()).headers  # not logged in: no header

    key = jwt(time.time() + 3600)
    TokenInfo(domain="example.com", api_key=key).save()
    assert auth(_prepared()).headers["Authorization"] == f"Bearer {key}"  # looked up per call

    TokenInfo(domain="example.com", api_key=jwt(time.time() - 60)).save()
    assert "Authorization" not in auth(_prepared()).headers  # expired: not sent

    assert client.BearerAuth().domain == "anaconda.com"  # default: the configured domain
    assert "given" not in repr(client.BearerAuth("example.com", api_key="given"))


def test_the_clients_auth_is_a_bearer_auth(isolated_home: Path) -> None:
    session = client.BaseClient(domain="example.com", api_key="k")
    assert isinstance(session.auth, client.BearerAuth)
    assert session.auth.api_key == "k"
    assert session.auth.domain == "example.com"


def _response(status: int, body: Any, authorization: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "Unauthorized"
    response._content = json.dumps(body).encode()
    request = _prepared()
    if authorization:
        request.headers["Authorization"] = authorization
    response.request = request
    return response


def test_login_required_hook_explains_auth_required_responses() -> None:
    body = {"error": {"code": "auth_required"}}
    anonymous = client.login_required(_response(401, body))
    assert anonymous.reason.startswith("You must log in")
    keyed = client.login_required(_response(403, body, "Bearer k"))
    assert keyed.reason == "Your API key or login token is invalid."
    other = client.login_required(_response(401, {"error": {"code": "nope"}}))
    assert other.reason == "Unauthorized"
    not_json = _response(401, None)
    not_json._content = b"<html>"
    assert client.login_required(not_json).reason == "Unauthorized"
    with pytest.raises(requests.HTTPError, match="You must log in"):
        anonymous.raise_for_status()


def test_lazy_reexports_of_the_client_module_are_the_real_objects() -> None:
    assert client.TokenInfo is token.TokenInfo
    assert client.AnacondaAuthConfig is config.AnacondaAuthConfig
    assert client.AnacondaAuthSite is config.AnacondaAuthSite
    assert client.TokenNotFoundError is TokenNotFoundError
    with pytest.raises(AttributeError):
        client.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_anaconda_cloud_config_is_a_deprecated_alias(isolated_home: Path) -> None:
    with pytest.warns(DeprecationWarning, match="AnacondaCloudConfig is deprecated"):
        cloud = config.AnacondaCloudConfig(domain="cloud.example")
    assert isinstance(cloud, AnacondaAuthConfig)
    assert cloud.domain == "cloud.example"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.AnacondaCloudConfig(raise_deprecation_warning=False).domain == "anaconda.com"


def test_openid_configuration_model_and_oidc_property(
    anaconda_idp: Any, anaconda_auth_home: Path
) -> None:
    found = AnacondaAuthConfig().oidc
    assert isinstance(found, config.OpenIDConfiguration)
    assert found.authorization_endpoint == f"{anaconda_idp.url}/authorize"
    assert found.token_endpoint == f"{anaconda_idp.url}/token"
    assert found.device_authorization_endpoint
    # 0.15 built it from the discovery document's JSON; unknown fields are kept
    model = config.OpenIDConfiguration(authorization_endpoint="a", token_endpoint="t", issuer="i")
    assert (model.device_authorization_endpoint, model.model_extra) == (None, {"issuer": "i"})


def _authorize(idp: Any, url: str) -> dict[str, str]:
    """Sign in at ``url`` as the first user, as a browser would; the redirect's query."""
    user = idp.settings.users[0]
    with idp.http_session() as s:
        r = s.post(
            url,
            data={"username": user.email, "password": user.password, "action": "approve"},
            allow_redirects=False,
            timeout=30,
        )
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}


def test_the_lower_level_login_steps_of_015(anaconda_idp: Any, anaconda_auth_home: Path) -> None:
    from anaconda_auth.flows.browser import PKCE

    pkce = PKCE.new()
    url = actions.make_auth_code_request_url(pkce.challenge, "the-state")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{anaconda_idp.url}/authorize?")
    assert query["code_challenge"] == [pkce.challenge]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/oidc"]
    assert query["scope"] == ["openid email profile offline_access"]

    redirect = _authorize(anaconda_idp, url)
    assert redirect["state"] == "the-state"
    access = actions.request_access_token(redirect["code"], pkce.verifier, AnacondaAuthConfig())
    with pytest.raises(AuthenticationError, match="invalid_grant"):  # a code works once
        actions.request_access_token(redirect["code"], pkce.verifier, AnacondaAuthConfig())

    api_key = actions.get_api_key(access)
    assert [r.path for r in anaconda_idp.requests_to("api_keys")] == ["/api/auth/api-keys"]
    assert api_key != access
    with pytest.raises(TokenNotFoundError):  # get_api_key stores nothing
        TokenInfo.load()
    assert actions.get_api_key(access, True)  # the older positional ssl_verify

    refresh = anaconda_idp.get_tokens()["refresh_token"]
    assert actions.refresh_access_token(refresh, AnacondaAuthConfig())
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        actions.refresh_access_token("not-a-refresh-token")


def test_cli_module_of_015_for_downstream_error_handlers() -> None:
    """anaconda-ai's error handlers call these two; off a terminal they explain how to log in."""
    code = textwrap.dedent(
        """
        from anaconda_auth.cli import _continue_with_login, _login_required_message, app
        from anaconda_auth.plugins.cli import app as plugin_app
        assert app is plugin_app
        _login_required_message("TokenNotFoundError")
        print("code", _continue_with_login())
        """
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("code 1")
    assert "TokenNotFoundError" in out.stderr
    assert "Login is required" in out.stderr
    assert "anaconda auth login" in out.stderr
    assert "ANACONDA_AUTH_API_KEY" in out.stderr


# --------------------------------------------------------------------------------------------
# The deprecated config sources: ANACONDA_CLOUD_* and [plugin.cloud]
# --------------------------------------------------------------------------------------------


def _origin(key: str) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # asserted where it matters
        row = next(r for r in explain() if r.key == key)
    return row.source, row.location


def test_legacy_environment_variable_is_used_with_a_warning(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_CLOUD_DOMAIN", "https://legacy.example.com/")
    with pytest.warns(DeprecationWarning, match="ANACONDA_CLOUD_DOMAIN.*ANACONDA_AUTH_DOMAIN"):
        assert AnacondaAuthConfig().domain == "legacy.example.com"
    assert _origin("domain") == ("legacy-env", "ANACONDA_CLOUD_DOMAIN")


def test_the_warning_points_at_the_callers_code(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_CLOUD_CLIENT_ID", "legacy-id")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AnacondaAuthConfig()
    assert [Path(w.filename).name for w in caught] == ["test_compat.py"]


def test_modern_values_win_and_silence_the_warning(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_CLOUD_DOMAIN", "legacy.example.com")
    monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "modern.example.com")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert AnacondaAuthConfig().domain == "modern.example.com"
        assert AnacondaAuthConfig(domain="explicit.example.com").domain == "explicit.example.com"


def test_legacy_env_rank_between_the_site_and_plugin_auth(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in 0.15: a site table beats ANACONDA_CLOUD_*, which beats [plugin.auth]."""
    write_config_toml(
        isolated_home,
        """
        [sites.main]
        domain = "site.example.com"
        client_id = "from-site"
        [plugin.auth]
        client_id = "from-plugin-auth"
        ssl_verify = true
        """,
    )
    monkeypatch.setenv("ANACONDA_CLOUD_CLIENT_ID", "from-legacy")
    monkeypatch.setenv("ANACONDA_CLOUD_SSL_VERIFY", "false")
    with pytest.warns(DeprecationWarning) as caught:
        resolved = AnacondaAuthConfig()
    assert resolved.client_id == "from-site"
    assert resolved.ssl_verify is False
    # 0.15's text first, then the name of the one legacy value used
    assert [str(w.message).rsplit("\n\n", 1)[1].split(" ")[0] for w in caught] == [
        "ANACONDA_CLOUD_SSL_VERIFY"
    ]


def test_legacy_names_in_dotenv_and_no_secret_in_messages(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (isolated_home / ".env").write_text(
        "ANACONDA_CLOUD_API_KEY=the-secret-key\nANACONDA_CLOUD_DOMAIN=dotenv.example\n"
    )
    monkeypatch.setenv("ANACONDA_CLOUD_DOMAIN", "environ.example")  # the environment first
    with caplog.at_level("WARNING"), pytest.warns(DeprecationWarning) as caught:
        resolved = AnacondaAuthConfig()
    assert resolved.api_key == "the-secret-key"
    assert resolved.domain == "environ.example"
    assert _origin("api_key") == ("legacy-env", "~/.env line 1: ANACONDA_CLOUD_API_KEY")
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert any("ANACONDA_AUTH_API_KEY" in m for m in messages)
    assert not any("the-secret-key" in m for m in messages)


def test_plugin_cloud_table_is_read_below_plugin_auth(isolated_home: Path) -> None:
    write_config_toml(
        isolated_home,
        """
        [plugin.cloud]
        domain = "cloud.example.com"
        client_id = "from-cloud"
        [plugin.auth]
        client_id = "from-auth"
        """,
    )
    with pytest.warns(DeprecationWarning, match=r"\[plugin.cloud\] domain .*\[plugin.auth\]"):
        resolved = AnacondaAuthConfig()
    assert (resolved.domain, resolved.client_id) == ("cloud.example.com", "from-auth")
    assert _origin("domain") == ("legacy-toml", "~/.anaconda/config.toml [plugin.cloud] domain")


def test_a_bad_plugin_cloud_table_names_the_fix(isolated_home: Path) -> None:
    write_config_toml(isolated_home, '[plugin]\ncloud = "oops"\n')
    with pytest.raises(ConfigError, match=r"\[plugin.cloud\].*\[plugin.auth\]"):
        AnacondaAuthConfig()


def test_a_bad_legacy_value_names_its_source(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANACONDA_CLOUD_HASH_HOSTNAME", "maybe")
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="ANACONDA_CLOUD_"):
        AnacondaAuthConfig()


def test_the_warning_is_also_logged_once_per_process(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeprecationWarning is hidden by default outside __main__: the log line is what users
    see; it appears once however often the configuration is built."""
    code = textwrap.dedent(
        """
        from anaconda_auth.config import AnacondaAuthConfig
        from anaconda_auth.client import BaseClient
        for _ in range(3):
            AnacondaAuthConfig()
        BaseClient()
        """
    )
    env = {"ANACONDA_CLOUD_CLIENT_ID": "legacy-id"}
    out = run_python(code, {**_clean_env(), **env})
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    # each warning ends with our sentence on a line of its own; the log line is the same text
    ours = [line for line in lines if line.startswith("ANACONDA_CLOUD_CLIENT_ID is deprecated")]
    shown = [line for line in lines if "DeprecationWarning: The following fields" in line]
    assert shown, out.stderr
    assert len(ours) - len(shown) == 1, out.stderr


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}


# --------------------------------------------------------------------------------------------
# conda's settings (a stand-in conda package: conda cannot be installed from PyPI)
# --------------------------------------------------------------------------------------------

FAKE_CONDA = '''
import json, os

class Context:
    """The four settings anaconda-auth reads, from $FAKE_CONDA_SETTINGS (JSON)."""

    def __init__(self, search_path=None, argparse_args=None):
        values = json.loads(os.environ.get("FAKE_CONDA_SETTINGS") or "{}")
        if values.get("raise"):
            raise RuntimeError("conda is broken")
        self.proxy_servers = values.get("proxy_servers", {})
        self.client_ssl_cert = values.get("client_ssl_cert")
        self.client_ssl_cert_key = values.get("client_ssl_cert_key")
        self.ssl_verify = values.get("ssl_verify", True)

context = Context()
'''


def write_fake_conda(root: Path) -> Path:
    package = root / "conda" / "base"
    package.mkdir(parents=True)
    (root / "conda" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "context.py").write_text(FAKE_CONDA)
    return root


@pytest.fixture
def fake_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from anaconda_auth.plugins import config_sources

    root = write_fake_conda(tmp_path / "fake-conda")
    # Real conda (tests/conda install it) may be imported already: hide it for this test.
    for name in [m for m in sys.modules if m == "conda" or m.startswith("conda.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(config_sources, "_conda_installed", None)
    config_sources.conda_settings.cache_clear()
    yield root
    config_sources.conda_settings.cache_clear()
    for name in [m for m in sys.modules if m == "conda" or m.startswith("conda.")]:
        del sys.modules[name]


def test_conda_settings_apply_below_every_other_source(
    fake_conda: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("cert")
    monkeypatch.setenv(
        "FAKE_CONDA_SETTINGS",
        json.dumps(
            {
                "proxy_servers": {"https": "http://proxy.example:3128"},
                "client_ssl_cert": str(cert),
                "ssl_verify": False,
            }
        ),
    )
    write_config_toml(
        isolated_home, '[plugin.auth]\nproxy_servers = { http = "http://auth-proxy:1" }\n'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # conda's settings are not deprecated
        resolved = AnacondaAuthConfig()
    # tables merge entry by entry, as in 0.15: conda's https entry under [plugin.auth]'s
    assert resolved.proxy_servers == {
        "http": "http://auth-proxy:1",
        "https": "http://proxy.example:3128",
    }
    assert resolved.client_cert == str(cert)
    assert resolved.ssl_verify is False
    assert resolved.client_cert_key is None
    assert _origin("ssl_verify") == ("conda", "conda's configuration (.condarc): ssl_verify")
    assert _origin("client_cert") == (
        "conda",
        "conda's configuration (.condarc): client_ssl_cert",
    )
    assert AnacondaAuthConfig(ssl_verify=True).ssl_verify is True


def test_condas_default_ssl_verify_is_not_reported_as_set(
    fake_conda: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONDA_SETTINGS", "{}")
    assert _origin("ssl_verify") == ("default", "default")


def test_condas_proxies_merge_under_configured_ones_when_every_key_is_set(
    fake_conda: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As 0.15 (pydantic-settings merged tables across sources): a configured entry wins over
    conda's entry of the same scheme, conda's other entries still apply."""
    monkeypatch.setenv(
        "FAKE_CONDA_SETTINGS",
        json.dumps({"proxy_servers": {"https": "http://conda:1", "http": "http://conda:2"}}),
    )
    write_config_toml(
        isolated_home,
        """
        [plugin.auth]
        ssl_verify = true
        client_cert = "c.pem"
        client_cert_key = "k.pem"
        proxy_servers = { https = "http://p:1" }
        """,
    )
    assert AnacondaAuthConfig().proxy_servers == {"https": "http://p:1", "http": "http://conda:2"}
    assert _origin("proxy_servers") == (
        "config-toml",
        "~/.anaconda/config.toml [plugin.auth] proxy_servers, "
        "conda's configuration (.condarc): proxy_servers",
    )


def test_a_broken_conda_is_ignored(
    fake_conda: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONDA_SETTINGS", json.dumps({"raise": True}))
    assert AnacondaAuthConfig().ssl_verify is True


def test_no_cost_without_conda(isolated_home: Path) -> None:
    """Without conda: one find_spec per process, and conda is never imported. (conda may be
    installed here for tests/conda: the probe answers "not installed" as it would without.)"""
    code = textwrap.dedent(
        """
        import importlib.util, sys
        calls = []
        real = importlib.util.find_spec
        def counting(name, *args, **kwargs):
            if name == "conda":
                calls.append(name)
                return None
            return real(name, *args, **kwargs)
        importlib.util.find_spec = counting
        from anaconda_auth.config import AnacondaAuthConfig
        for domain in ("a.example", "b.example", "c.example"):
            AnacondaAuthConfig(domain=domain)
        print(len(calls), "conda" in sys.modules)
        """
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "False"]


def test_conda_is_read_once_per_process(
    fake_conda: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONDA_SETTINGS", json.dumps({"client_ssl_cert": "first.pem"}))
    assert AnacondaAuthConfig().client_cert == "first.pem"
    monkeypatch.setenv("FAKE_CONDA_SETTINGS", json.dumps({"client_ssl_cert": "second.pem"}))
    assert AnacondaAuthConfig(domain="other.example").client_cert == "first.pem"


def test_readme_lists_the_legacy_sources_in_the_precedence() -> None:
    text = README.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for needle in ("ANACONDA_CLOUD_", "[plugin.cloud]", ".condarc"):
        assert needle in section, needle
    assert re.search(r"DeprecationWarning", _readme_section())
