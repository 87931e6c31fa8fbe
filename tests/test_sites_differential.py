"""``anaconda sites`` under the published anaconda-auth 0.15.3 and under this package.

The same ``config.toml`` (or none) in two throwaway homes, the same command line through each
version's real ``anaconda`` executable: the exit codes must be equal, the file written must be
equal byte for byte, and an error must say the same words (0.15 printed them on stdout, we print
them on stderr: README, "anaconda sites errors went to stdout"). The differences we keep on
purpose are asserted explicitly below, each listed in README.md.

0.15.3 comes from ``support.processes.REF_PYTHON`` (``$ANACONDA_AUTH_REF_VENV``; dev/test.sh
creates it); without it these tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit
from support.cli import ANACONDA, strip_ansi
from support.processes import REF_PYTHON

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        REF_PYTHON is None,
        reason="the published anaconda-auth 0.15.3 is not installed: set ANACONDA_AUTH_REF_VENV "
        "to a venv with anaconda-auth==0.15.3 (dev/test.sh creates one)",
    ),
]

TWO_SITES = """\
default_site = "foo"

[sites.foo]
domain = "foo.local"
ssl_verify = false

[sites.bar]
domain = "bar.local"
"""

SAME_DOMAIN = TWO_SITES.replace("bar.local", "foo.local")

ONE_SITE = """\
default_site = "short-name"

[sites.short-name]
domain = "foo.local"
ssl_verify = false
"""

THREE_SITES = """\
default_site = "foo"

[sites.bar]

[sites.foo]

[sites.baz]
"""

WITH_ANACONDA_COM = """\
default_site = "anaconda.com"

[sites."anaconda.com"]

[sites."foo.local"]
domain = "foo.local"
"""

PLUGIN_AUTH = """\
# tuned by hand
[plugin.auth]
ssl_verify = false  # a proxy
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    file: str | None


def _run(anaconda: str, home: Path, config: str | None, args: Sequence[str]) -> Outcome:
    path = home / ".anaconda" / "config.toml"
    path.parent.mkdir(parents=True)
    if config is not None:
        path.write_text(config)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANACONDA_", "PYTHON", "VIRTUAL_ENV", "CONDA_"))
    }
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        ANACONDA_CLI_DISABLE_TELEMETRY="1",
        COLUMNS="200",
        PYTHONDONTWRITEBYTECODE="1",
    )
    proc = subprocess.run(
        [anaconda, "sites", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return Outcome(
        proc.returncode,
        strip_ansi(proc.stdout),
        strip_ansi(proc.stderr),
        path.read_text() if path.exists() else None,
    )


def both(tmp_path: Path, config: str | None, *args: str) -> tuple[Outcome, Outcome]:
    assert REF_PYTHON is not None
    ref_anaconda = str(REF_PYTHON.parent / "anaconda")
    with ThreadPoolExecutor(2) as pool:
        ref = pool.submit(_run, ref_anaconda, tmp_path / "ref", config, args)
        ours = pool.submit(_run, ANACONDA, tmp_path / "ours", config, args)
        return ref.result(), ours.result()


def _words(text: str) -> str:
    return " ".join(text.split())


# -- the file written ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "args"),
    [
        pytest.param(None, ["add", "--name", "short-name", "--domain", "foo.local"], id="first"),
        pytest.param(None, ["add", "--domain", "foo.local"], id="first-without-name"),
        pytest.param(
            None,
            ["add", "--name", "n", "--domain", "foo.local", "--no-remove-anaconda-com"],
            id="keep-anaconda-com",
        ),
        pytest.param(
            None,
            ["add", "--name", "n", "--domain", "x.local", "--default", "--no-remove-anaconda-com"],
            id="keep-anaconda-com-default",
        ),
        pytest.param(
            None,
            ["add", "--domain", "foo.local", "--no-ssl-verify", "--client-cert", "c.pem"],
            id="first-with-options",
        ),
        pytest.param(None, ["add", "--domain", "foo.local", "--use-truststore"], id="truststore"),
        pytest.param(None, ["modify", "--name", "anaconda.com", "--no-ssl-verify"], id="implicit"),
        pytest.param(TWO_SITES, ["add", "--domain", "baz.local", "--default"], id="add-default"),
        pytest.param(TWO_SITES, ["modify", "--name", "bar", "--default"], id="swap-default"),
        pytest.param(TWO_SITES, ["modify", "--domain", "bar.local", "--no-ssl-verify"], id="dom"),
        pytest.param(
            WITH_ANACONDA_COM,
            ["modify", "--domain", "foo.local", "--no-use-device-flow"],
            id="typed-no-device-flow",
        ),
        pytest.param(THREE_SITES, ["remove", "foo"], id="remove-default"),
        pytest.param(THREE_SITES, ["remove", "bar"], id="remove-other"),
        pytest.param(PLUGIN_AUTH, ["add", "--domain", "foo.local"], id="beside-plugin-auth"),
    ],
)
def test_the_file_is_written_alike(tmp_path: Path, config: str | None, args: list[str]) -> None:
    ref, ours = both(tmp_path, config, *args, "--yes")
    assert (ref.code, ours.code) == (0, 0), (ref, ours)
    assert ours.file == ref.file


def test_json_options_mean_the_same(tmp_path: Path) -> None:
    """0.15 wrote a JSON option as a sub-table ([sites.x.extra_headers]), we write an inline
    table: the same TOML value."""
    args = ["add", "--domain", "foo.local", "--extra-headers", '{"X-A": "1"}', "--yes"]
    ref, ours = both(tmp_path, TWO_SITES, *args)
    assert (ref.code, ours.code) == (0, 0), (ref, ours)
    assert ref.file is not None and ours.file is not None
    assert tomlkit.parse(ours.file).unwrap() == tomlkit.parse(ref.file).unwrap()
    assert ours.file.startswith(TWO_SITES)


def test_kept_difference_a_typed_option_is_written(tmp_path: Path) -> None:
    """`--use-device-flow` is 0.15's default, so 0.15 wrote nothing; it is not ours (README:
    use_device_flow), and what a person types is written, so the file means the same to both."""
    args = ["modify", "--name", "foo", "--use-device-flow", "--yes"]
    ref, ours = both(tmp_path, TWO_SITES, *args)
    assert (ref.code, ours.code) == (0, 0), (ref, ours)
    assert ref.file == TWO_SITES
    assert ours.file == TWO_SITES.replace(
        "ssl_verify = false\n", "ssl_verify = false\nuse_device_flow = true\n"
    )


def test_kept_difference_a_written_anaconda_com_table_stays(tmp_path: Path) -> None:
    """0.15's `sites add` removed a [sites."anaconda.com"] table the person wrote unless told
    --no-remove-anaconda-com; we replace only the implicit site unless told
    --remove-anaconda-com (README)."""
    args = ["add", "--domain", "baz.local", "--yes"]
    ref, ours = both(tmp_path, WITH_ANACONDA_COM, *args)
    assert (ref.code, ours.code) == (0, 0), (ref, ours)
    assert ours.file == WITH_ANACONDA_COM + '\n[sites."baz.local"]\ndomain = "baz.local"\n'
    assert ref.file is not None and '[sites."anaconda.com"]' not in ref.file
    ref, ours = both(tmp_path / "asked", WITH_ANACONDA_COM, *args, "--remove-anaconda-com")
    assert (ref.code, ours.code) == (0, 0), (ref, ours)
    assert ours.file == ref.file


# -- errors: the same exit code, the same words, the file untouched -----------------------------


@pytest.mark.parametrize(
    ("config", "args", "words"),
    [
        (None, ["add", "--name", "foo"], "You must supply at least --domain to"),
        (ONE_SITE, ["add", "--name", "short-name", "--domain", "x.local"], "A site with name"),
        (None, ["add", "--domain", "anaconda.com"], "A site with name anaconda.com already"),
        (None, ["add", "--domain", "x.local", "--extra-headers", "{'a': 1}"], "could not be"),
        (None, ["add", "--domain", "x.local", "--proxy-servers", "{x"], "proxy-servers={x could"),
        (None, ["add", "--domain", "x.local", "--keyring", "v"], "may not be secure"),
        (None, ["add", "--domain", "x.local", "--keyring", "v"], "The keyring argument could"),
        (
            None,
            ["add", "--domain", "x.local", "--oidc-request-headers", "v"],
            "The oidc-request-headers argument could not be parsed as JSON",
        ),
        (None, ["add", "--domain", "x.local", "--proxy-servers", "[1]"], "valid dictionary"),
        (
            None,
            ["add", "--domain", "x.local", "--no-ssl-verify", "--use-truststore"],
            "Cannot set both --use-truststore and --no-ssl-verify",
        ),
        (None, ["modify", "--no-ssl-verify"], "You must supply at least one of --domain or"),
        (ONE_SITE, ["modify", "--name", "nope", "--no-ssl-verify"], "The site or domain nope"),
        (ONE_SITE, ["modify", "--domain", "nope", "--no-ssl-verify"], "has not been configured"),
        (SAME_DOMAIN, ["modify", "--domain", "foo.local"], "matches more than one configured"),
        (SAME_DOMAIN, ["remove", "foo.local"], "The domain foo.local matches more than one"),
        (ONE_SITE, ["remove", "nope"], "The site or domain nope has not been configured in"),
        (ONE_SITE, ["remove", "short-name"], "short-name is the only configured site and"),
        (ONE_SITE, ["remove", "foo.local"], "foo.local is the only configured site and"),
        (None, ["remove", "anaconda.com"], "anaconda.com is the only configured site and"),
        (ONE_SITE, ["modify", "--name", "short-name", "--domain", "http://"], "does not look"),
    ],
)
def test_errors_say_the_same(
    tmp_path: Path, config: str | None, args: list[str], words: str
) -> None:
    ref, ours = both(tmp_path, config, *args, "--yes")
    assert ours.code == ref.code != 0, (ref, ours)
    assert words in _words(ref.stdout), ref
    assert words in _words(ours.stderr), ours  # kept difference: stderr, not stdout
    assert "Traceback" not in ours.stderr
    assert ref.file == ours.file == config


def test_show_prints_the_fields_of_0_15(tmp_path: Path) -> None:
    """The same keys; `use_device_flow` differs by its default (README)."""
    import json

    for args in (["show"], ["show", "bar.local"], ["show", "--all"]):
        ref, ours = both(tmp_path / "-".join(args), TWO_SITES, *args)
        assert (ref.code, ours.code) == (0, 0), (ref, ours)
        ref_data, our_data = json.loads(ref.stdout), json.loads(ours.stdout)
        if "--all" in args:
            assert list(our_data) == list(ref_data) == ["foo", "bar"]
            pairs = [(ref_data[name], our_data[name]) for name in ref_data]
        else:
            pairs = [(ref_data, our_data)]
        for ref_site, our_site in pairs:
            # use_unified_repo_api_key: shown once the site model has it
            assert set(our_site) | {"use_unified_repo_api_key"} == set(ref_site)
            assert our_site.pop("use_device_flow") is False
            assert ref_site.pop("use_device_flow") is True
            assert {k: v for k, v in ref_site.items() if k in our_site} == our_site
