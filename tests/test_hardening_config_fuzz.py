"""Fuzzing every config source (hardening): whatever ``config.toml``, the environment, ``.env``
or the secrets directory hold, building the configuration either works or raises one of the
documented errors (``ConfigError``, ``UnknownSiteName``, ``PluginError``) — never a raw Python
error. What loads is usable: header values HTTP can carry, finite timeouts, a ``repr()``
without the planted secrets.

Slow (marked in conftest.py): a few hundred examples in all.
"""

from __future__ import annotations

import json
import math
import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests.utils
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anaconda_auth.config import FIELD_NAMES, AnacondaAuthConfig, explain, unknown_names
from anaconda_auth.config.loader import is_secret_name
from anaconda_auth.exceptions import ConfigError, PluginError, UnknownSiteName
from anaconda_auth.manager import reset_plugin_manager

#: The errors the configuration documents; anything else is a bug.
DOCUMENTED = (ConfigError, UnknownSiteName, PluginError)

FUZZ = settings(
    # more for a longer hunt: FUZZ_EXAMPLES=2000 pytest tests/test_hardening_config_fuzz.py
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PLANTED = "planted-secret-7f3a"

# --- pieces ---------------------------------------------------------------------------------

# text that can live in an environment variable: no NUL, no lone surrogates
env_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
keys = st.sampled_from(FIELD_NAMES) | st.sampled_from(
    ["site", "extra_headers__X-Api-Key", "proxy_servers__https", "keyring_passphrase", "domian"]
)


def _deep(depth: int, json_like: bool) -> str:
    if json_like:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


special_values = st.sampled_from(
    [
        "",
        " ",
        "inf",
        "nan",
        "-1",
        "1e400",
        "true",
        "maybe",
        "~nosuchuser-fz/x",
        "~/x",
        "$UNSET_VAR/x",
        "nope",
        "anaconda.com",
        "https://user:pw@host:99999/x",
        "\u20ac",
        "\ufeffvalue",
        '{"X-Api-Key": "' + PLANTED + '"}',
        '{"https": "http://u:' + PLANTED + '@p:1"}',
        '{"X-A": "\u20ac"}',
        '{"X-A": " lead"}',
        '{"bad name": "x"}',
        '{"a": {"b": {"c": 1}}}',
        "[1, 2",
        '["a", 1]',
        "[]",
        "{}",
        _deep(3000, True),
        _deep(3000, False),
    ]
)
env_values = special_values | env_text


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string (escapes included)


toml_scalars = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if math.isnan(f) else ("inf" if f == math.inf else repr(f))
    ),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "true", "false", "1979-05-27T07:32:00Z"]),
    st.text(max_size=30).map(toml_string),
    special_values.map(toml_string),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
        | st.dictionaries(
            st.sampled_from(["a", "X-Api-Key", "https", "b c"]), inner, max_size=3
        ).map(lambda d: "{" + ", ".join(f"{toml_string(k)} = {v}" for k, v in d.items()) + "}")
    ),
    max_leaves=8,
) | st.integers(500, 4000).map(lambda depth: _deep(depth, False))

toml_headers = st.sampled_from(
    [
        "[plugin.auth]",
        "[plugin.cloud]",
        "[plugin]",
        "[sites.a]",
        '[sites."b.example"]',
        "[sites]",
        "[plugins.auth]",
        "[[sites]]",
        "[plugin.aut]",
    ]
)
toml_keys = keys | st.sampled_from(["default_site", "sites", "plugin", "default-site"])


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["structured", "structured", "structured", "text", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    lines = []
    if draw(st.booleans()):
        lines.append(f"default_site = {draw(toml_scalars)}")
    for _ in range(draw(st.integers(0, 4))):
        lines.append(draw(toml_headers))
        for _ in range(draw(st.integers(0, 4))):
            lines.append(f"{toml_string(draw(toml_keys))} = {draw(toml_values)}")
    text = "\n".join(lines) + "\n"
    prefix = "\ufeff" if draw(st.booleans()) and draw(st.booleans()) else ""
    return (prefix + text).encode("utf-8", "surrogatepass")


env_names = st.one_of(
    keys.map(lambda k: f"ANACONDA_AUTH_{k.upper()}"),
    keys.map(lambda k: f"anaconda_auth_{k}"),
    keys.map(lambda k: f"ANACONDA_CLOUD_{k.upper()}"),
    st.sampled_from(["ANACONDA_DEFAULT_SITE", "ANACONDA_AUTH_DISABLED_PLUGINS"]),
    st.text(string.ascii_uppercase + "_", min_size=1, max_size=8).map(
        lambda s: f"ANACONDA_AUTH_{s}"
    ),
)
environments = st.dictionaries(env_names, env_values, max_size=4)


@st.composite
def dotenv_documents(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(env_names | st.sampled_from(["OTHER", "export ANACONDA_AUTH_DOMAIN"]))
        value = draw(env_values)
        quote = draw(st.sampled_from(["", "'", '"', '"unclosed', "${HOME}"]))
        if quote in ("'", '"'):
            value = quote + value.replace(quote, "") + quote
        elif quote:
            value = quote + value
        lines.append(f"{name}={value}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=40)))
    text = "\ufeff" if draw(st.booleans()) else ""
    text += draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return text.encode("utf-8", "surrogatepass")


# --- placing the inputs and checking the outcome ----------------------------------------------


@contextmanager
def configured(
    home: Path,
    toml: bytes | None = None,
    environ: dict[str, str] | None = None,
    dotenv: bytes | None = None,
    secrets: dict[str, str] | None = None,
) -> Iterator[None]:
    config = home / ".anaconda" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    secrets_dir = home / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANACONDA_SECRETS_DIR", str(secrets_dir))
        for name, value in (environ or {}).items():
            mp.setenv(name, value)
        if toml is not None:
            config.write_bytes(toml)
        if dotenv is not None:
            (home / ".env").write_bytes(dotenv)
        for name, value in (secrets or {}).items():
            (secrets_dir / name).write_text(value, encoding="utf-8", errors="surrogatepass")
        reset_plugin_manager()
        try:
            yield
        finally:
            config.unlink(missing_ok=True)
            (home / ".env").unlink(missing_ok=True)
            for path in secrets_dir.iterdir():
                path.unlink()
            reset_plugin_manager()


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return url  # unparsable: masked whole


def load_or_documented_error() -> None:
    """Build the configuration (twice: the memo), explain it and list its unknown names;
    only the documented errors may come out. What loads must be usable."""
    try:
        config = AnacondaAuthConfig()
        again = AnacondaAuthConfig()
        explain()
        unknown_names()
    except DOCUMENTED:
        return
    assert again == config
    for table in (config.extra_headers or {}, config.oidc_request_headers):
        for name, value in table.items():
            requests.utils.check_header_validity((name, value))  # raises InvalidHeader
            value.encode("latin-1")
    for timeout in (config.http_timeout, config.login_timeout):
        assert math.isfinite(timeout) and 0 < timeout <= 86400
    # the planted secret (in a secret header, a proxy password, api_key or keyring) never shows,
    # unless a field that holds no secret was given it too
    holders = ("extra_headers", "oidc_request_headers", "proxy_servers", "api_key", "keyring")
    plain = " ".join(str(getattr(config, f)) for f in FIELD_NAMES if f not in holders)
    plain += " ".join(
        f"{k}={v}"
        for table in (config.extra_headers or {}, config.oidc_request_headers)
        for k, v in table.items()
        if not is_secret_name(k)
    )
    for url in (config.proxy_servers or {}).values():
        if PLANTED not in (_password(url) or ""):
            plain += f" {url}"  # no password: shown as it is
    if PLANTED not in plain:
        assert PLANTED not in repr(config) + str(config)


@FUZZ
@given(toml=toml_documents())
@example(toml=b"[plugin.auth]\nhttp_timeout = inf\n")
@example(toml=b'[plugin.auth]\ndomain = "\xff"\n')
@example(toml=("[plugin.auth]\nextra_headers = " + _deep(5000, False)).encode())
def test_fuzz_config_toml(isolated_home: Path, toml: bytes) -> None:
    with configured(isolated_home, toml=toml):
        load_or_documented_error()


@FUZZ
@given(environ=environments)
@example(environ={"ANACONDA_AUTH_EXTRA_HEADERS": _deep(20000, True)})
@example(environ={"ANACONDA_AUTH_DISABLED_PLUGINS": "[" * 20000})
@example(environ={"ANACONDA_AUTH_SITE": "nope"})
@example(environ={"ANACONDA_AUTH_CLIENT_CERT_KEY": "/k"})
def test_fuzz_environment(isolated_home: Path, environ: dict[str, str]) -> None:
    with configured(isolated_home, environ=environ):
        load_or_documented_error()


@FUZZ
@given(dotenv=dotenv_documents())
@example(dotenv=b"\xef\xbb\xbfANACONDA_AUTH_DOMAIN=bom.example\n")
def test_fuzz_dotenv(isolated_home: Path, dotenv: bytes) -> None:
    with configured(isolated_home, dotenv=dotenv):
        load_or_documented_error()


@FUZZ
@given(
    toml=toml_documents(),
    environ=environments,
    secrets=st.dictionaries(env_names.filter(lambda n: "/" not in n), env_values, max_size=2),
)
def test_fuzz_every_source_at_once(
    isolated_home: Path, toml: bytes, environ: dict[str, str], secrets: dict[str, str]
) -> None:
    with configured(isolated_home, toml=toml, environ=environ, secrets=secrets):
        load_or_documented_error()
