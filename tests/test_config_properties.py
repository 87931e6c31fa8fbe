"""Property tests: values round-trip through every source, bad values are rejected naming the
source and the key, the .env parser reads back what a writer wrote, secrets never show."""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anaconda_auth.config import MASK, AnacondaAuthConfig, explain
from anaconda_auth.config.files import parse_dotenv
from anaconda_auth.exceptions import ConfigError

SOURCES = ["explicit", "environment", "secrets-dir", "dotenv", "site", "config-toml"]

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# --- writing one value into one source ---------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes for the alphabets used here
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def _dotenv_value(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _location(home: Path, source: str, key: str) -> str:
    env = f"ANACONDA_AUTH_{key.upper()}"
    return {
        "explicit": f"the {key}= argument",
        "environment": env,
        "secrets-dir": str(home / "secrets" / env),
        "dotenv": f"~/.env line 1: {env}",
        "site": f"~/.anaconda/config.toml [sites.s] {key}",
        "config-toml": f"~/.anaconda/config.toml [plugin.auth] {key}",
    }[source]


@contextmanager
def placed(home: Path, source: str, key: str, value: Any) -> Iterator[dict[str, Any]]:
    """Put ``key`` = ``value`` in one source only (text sources get ``str`` values as they
    are); yield the explicit kwargs; remove it again."""
    env = f"ANACONDA_AUTH_{key.upper()}"
    toml = home / ".anaconda" / "config.toml"
    secrets = home / "secrets"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANACONDA_SECRETS_DIR", str(secrets))
        try:
            if source == "explicit":
                yield {key: value}
                return
            if source == "environment":
                mp.setenv(env, value)
            elif source == "secrets-dir":
                secrets.mkdir(exist_ok=True)
                (secrets / env).write_text(value + "\n", encoding="utf-8")
            elif source == "dotenv":
                (home / ".env").write_text(f"{env}={_dotenv_value(value)}\n", encoding="utf-8")
            else:
                toml.parent.mkdir(exist_ok=True)
                line = f"{key} = {_toml_value(value)}\n"
                if source == "site":
                    head = 'default_site = "s"\n[sites.s]\n'
                    if key != "domain":
                        head += 'domain = "site.example"\n'
                    toml.write_text(head + line, encoding="utf-8")
                else:
                    toml.write_text("[plugin.auth]\n" + line, encoding="utf-8")
            yield {}
        finally:
            for path in (toml, home / ".env", secrets / env):
                path.unlink(missing_ok=True)


TEXT_SOURCES = {"environment", "secrets-dir", "dotenv"}

# --- strategies ------------------------------------------------------------------------------

# printable text without control characters or surrogates, no surrounding white space
printable = st.text(
    st.characters(
        whitelist_categories=("L", "N", "P", "S", "Zs"),
        blacklist_characters="\x7f",
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s != "")

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@st.composite
def domains(draw: st.DrawFn) -> tuple[str, str]:
    """(what the user writes, the normalised domain)."""
    host = ".".join(draw(st.lists(label, min_size=1, max_size=4)))
    port = draw(st.none() | st.integers(1, 65535))
    netloc = host if port is None else f"{host}:{port}"
    scheme = draw(st.sampled_from(["", "https://", "http://", "HTTPS://"]))
    path = draw(st.sampled_from(["", "/", "/some/path", "/?q=1"])) if scheme else ""
    return scheme + netloc + path, netloc


header_name = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20)
# what HTTP can carry in a header value: Latin-1 (others are rejected: test_hardening_config)
header_value = st.text(
    st.characters(
        whitelist_categories=("L", "N", "P", "S", "Zs"),
        blacklist_characters="\x7f",
        max_codepoint=0xFF,
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s != "")
header_dict = st.dictionaries(header_name, header_value, max_size=4)
bool_words = {
    True: ["true", "yes", "on", "1", "t", "y"],
    False: ["false", "no", "off", "0", "f", "n"],
}


@st.composite
def bool_spelling(draw: st.DrawFn, value: bool) -> str:
    word = draw(st.sampled_from(bool_words[value]))
    return "".join(c.upper() if draw(st.booleans()) else c for c in word)


# --- round trips ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(source=st.sampled_from(SOURCES), domain=domains())
def test_domain_round_trips(isolated_home: Path, source: str, domain: tuple[str, str]) -> None:
    written, expected = domain
    with placed(isolated_home, source, "domain", written) as explicit:
        config = AnacondaAuthConfig(**explicit)
        assert config.domain == expected
        assert config.well_known_url.startswith(f"https://{expected}/")


@PROPERTY_SETTINGS
@given(source=st.sampled_from(SOURCES), value=st.booleans(), data=st.data())
def test_ssl_verify_bool_round_trips(
    isolated_home: Path, source: str, value: bool, data: st.DataObject
) -> None:
    raw: Any = value
    if source in TEXT_SOURCES or data.draw(st.booleans()):
        raw = data.draw(bool_spelling(value))
    with placed(isolated_home, source, "ssl_verify", raw) as explicit:
        assert AnacondaAuthConfig(**explicit).ssl_verify is value


@PROPERTY_SETTINGS
@given(source=st.sampled_from(SOURCES), headers=header_dict, as_json=st.booleans())
def test_extra_headers_round_trip(
    isolated_home: Path, source: str, headers: dict[str, str], as_json: bool
) -> None:
    raw: Any = headers
    if source in TEXT_SOURCES or as_json:
        raw = json.dumps(headers, ensure_ascii=as_json)
    with placed(isolated_home, source, "extra_headers", raw) as explicit:
        assert AnacondaAuthConfig(**explicit).extra_headers == headers


@PROPERTY_SETTINGS
@given(source=st.sampled_from(SOURCES), client_id=printable)
def test_client_id_round_trips(isolated_home: Path, source: str, client_id: str) -> None:
    with placed(isolated_home, source, "client_id", client_id) as explicit:
        config = AnacondaAuthConfig(**explicit)
        assert config.client_id == client_id
        row = next(r for r in explain(**explicit) if r.key == "client_id")
        assert row.value == client_id
        expected = _location(isolated_home, source, "client_id")
        if source == "explicit":
            assert row.location == "argument client_id="
        else:
            assert row.location == expected


@PROPERTY_SETTINGS
@given(
    source=st.sampled_from(SOURCES),
    key=st.text(string.ascii_letters + string.digits, min_size=12, max_size=30),
)
def test_api_keys_never_show(isolated_home: Path, source: str, key: str) -> None:
    secret = f"sk-{key}"
    with placed(isolated_home, source, "api_key", secret) as explicit:
        assert AnacondaAuthConfig(**explicit).api_key == secret
        rows = explain(**explicit)
        assert secret not in repr(rows)
        assert next(r for r in rows if r.key == "api_key").value == MASK
        assert secret not in repr(AnacondaAuthConfig(**explicit))


# --- bad values ----------------------------------------------------------------------------------


@st.composite
def bad_values(draw: st.DrawFn, text_source: bool) -> tuple[str, Any]:
    """(key, a value that key must reject), spelt as a text or a native source would."""
    word = st.text(string.ascii_letters, min_size=2, max_size=12).filter(
        lambda w: w.lower() not in bool_words[True] + bool_words[False] + ["truststore"]
    )
    choices: list[st.SearchStrategy[tuple[str, Any]]] = [
        word.map(lambda w: ("ssl_verify", f"/nonexistent-{w}/ca.pem")),
        word.map(lambda w: ("hash_hostname", w)),
        word.map(lambda w: ("use_device_flow", w)),
        st.tuples(label, label).map(lambda t: ("domain", f"{t[0]} {t[1]}")),
        st.sampled_from(["[]", "3", '"text"', "{", '{"a": 1}', '{"bad name": "v"}']).map(
            lambda j: ("extra_headers", j)
        ),
        st.sampled_from(["[1]", "{"]).map(lambda j: ("proxy_servers", j)),
    ]
    if not text_source:
        choices += [
            st.integers().map(lambda i: ("ssl_verify", i)),
            st.integers().map(lambda i: ("client_id", i)),
            st.lists(word, max_size=2).map(lambda v: ("extra_headers", v)),
            st.integers().map(lambda i: ("domain", i)),
        ]
    return draw(st.one_of(choices))


@PROPERTY_SETTINGS
@given(source=st.sampled_from(SOURCES), data=st.data())
def test_bad_values_are_rejected_naming_source_and_key(
    isolated_home: Path, source: str, data: st.DataObject
) -> None:
    key, value = data.draw(bad_values(source in TEXT_SOURCES))
    with placed(isolated_home, source, key, value) as explicit, pytest.raises(ConfigError) as err:
        AnacondaAuthConfig(**explicit)
    message = str(err.value)
    assert message.startswith(f"Invalid {key}")
    assert f"from {_location(isolated_home, source, key)}" in message
    assert "Expected " in message


# --- the .env parser ------------------------------------------------------------------------------

env_name = st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True)


@st.composite
def dotenv_line(draw: st.DrawFn, name: str, value: str) -> str:
    export = draw(st.sampled_from(["", "export "]))
    space = draw(st.sampled_from(["", " "]))
    style = draw(st.sampled_from(["double", "single", "bare"]))
    if style == "single" and "'" not in value:
        rendered = f"'{value}'"
    elif (
        style == "bare" and value == value.strip() and " #" not in value and value[:1] not in "'\""
    ):
        rendered = value
    else:
        rendered = _dotenv_value(value)
    comment = draw(st.sampled_from(["", "  # note"]))
    return f"{export}{name}{space}={space}{rendered}{comment}"


@PROPERTY_SETTINGS
@given(values=st.dictionaries(env_name, printable | st.just(""), max_size=6), data=st.data())
def test_dotenv_parser_reads_back_what_was_written(
    values: dict[str, str], data: st.DataObject
) -> None:
    lines = ["# generated"]
    for name, value in values.items():
        lines.append(data.draw(dotenv_line(name, value)))
        if data.draw(st.booleans()):
            lines.append("")
    parsed = parse_dotenv("\n".join(lines) + "\n")
    assert parsed.problems == ()
    assert {k: v for k, (v, _) in parsed.values.items()} == values


def test_the_helpers_clean_up(isolated_home: Path) -> None:
    with placed(isolated_home, "dotenv", "client_id", "x"):
        assert (isolated_home / ".env").exists()
    assert not (isolated_home / ".env").exists()
    assert "ANACONDA_AUTH_CLIENT_ID" not in os.environ
