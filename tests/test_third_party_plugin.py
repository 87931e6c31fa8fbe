"""The JSON-file storage example of docs/storage-backends.md, installed as a distribution, works.

The test copies the code blocks of "A second example: tokens in a JSON file" as they are: the
plugin module, the ``pyproject.toml`` (its ``anaconda_auth`` entry points become the distribution's
``entry_points.txt``) and the ``config.toml`` that selects the backend. Fresh interpreters then
save a token through ``TokenInfo.save()`` and read it back.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from support.config_files import write_config_toml
from support.docs import code_blocks
from support.plugin_dists import write_dist
from support.processes import run_python
from support.tokens import jwt

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "storage-backends.md"
SECTION = "## A second example: tokens in a JSON file"


def example_blocks() -> dict[str, str]:
    """The fenced blocks of the section, by the path in their first-line comment."""
    return code_blocks(GUIDE, SECTION)


def install_example(site: Path) -> dict[str, Any]:
    """Install the example as pip would: the package, plus a .dist-info with entry points."""
    blocks = example_blocks()
    pyproject = tomllib.loads(blocks["pyproject.toml"])
    project = pyproject["project"]
    eps: dict[str, str] = project["entry-points"]["anaconda_auth"]
    [module_path] = [p for p in blocks if p.endswith(".py")]
    # src/<package>/<module>.py -> site/<package>/<module>.py, matching the entry point
    relative = Path(module_path)
    if relative.parts[0] == "src":
        relative = Path(*relative.parts[1:])
    module = ".".join(relative.with_suffix("").parts)
    assert module in eps.values()
    write_dist(site, project["name"], project["version"], eps, {module: blocks[module_path]})
    config = tomllib.loads(blocks["~/.anaconda/config.toml"])
    return {
        "project": project,
        "entry_points": eps,
        "config_block": blocks["~/.anaconda/config.toml"],
        "backend": config["plugin"]["auth"]["preferred_token_storage"],
    }


def run(code: str, env: dict[str, str]) -> str:
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def example(tmp_path: Path, isolated_home: Path) -> dict[str, Any]:
    site = tmp_path / "site"
    site.mkdir()
    info = install_example(site)
    write_config_toml(isolated_home, info["config_block"])  # as shown, comment line included
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANACONDA_")}
    env.update(HOME=str(isolated_home), PYTHONPATH=str(site))
    info["env"] = env
    info["home"] = isolated_home
    return info


def test_contributing_example_stores_and_reads_tokens(example: dict[str, Any]) -> None:
    env = example["env"]
    backend = example["backend"]
    key = jwt()
    saved = run(
        f"""
        from anaconda_auth.token import TokenInfo
        info = TokenInfo(domain="plugin.example.test", api_key={key!r}, username="ann")
        info.set_repo_token("org", "repo-token")
        info.save()
        print(info.source)
        """,
        env,
    )
    assert saved.strip() == backend

    # the plugin received the token in the 0.15-compatible format
    store = example["home"] / ".anaconda" / "tokens.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    entries = json.loads(store.read_text())
    value = entries["Anaconda Cloud"]["plugin.example.test"]
    decoded = json.loads(base64.b64decode(value))
    assert decoded["api_key"] == key and decoded["version"] == 2

    # a fresh process reads it back through the plugin and lists the plugin
    loaded = run(
        """
        import json
        from anaconda_auth.token import TokenInfo
        from anaconda_auth.manager import plugin_infos
        info = TokenInfo.load("plugin.example.test")
        plugins = {p.name: [p.distribution, p.version, p.status] for p in plugin_infos()}
        print(json.dumps([info.source, info.api_key, info.username,
                          info.get_repo_token("org"), plugins]))
        """,
        env,
    )
    source, api_key, username, repo_token, plugins = json.loads(loaded)
    assert (source, api_key, username, repo_token) == (backend, key, "ann", "repo-token")
    [ep_name] = example["entry_points"]
    project = example["project"]
    assert plugins[ep_name] == [project["name"], project["version"], "loaded"]

    # and deletes it
    run(
        """
        from anaconda_auth.token import TokenInfo
        from anaconda_auth.exceptions import TokenNotFoundError
        TokenInfo(domain="plugin.example.test").delete()
        try:
            TokenInfo.load("plugin.example.test")
        except TokenNotFoundError:
            pass
        else:
            raise SystemExit("still there")
        """,
        env,
    )
    assert json.loads(store.read_text()) == {"Anaconda Cloud": {}}


def test_contributing_example_reports_unavailable(example: dict[str, Any]) -> None:
    env = {**example["env"], "ANACONDA_JSON_STORE": "/nonexistent-dir/tokens.json"}
    out = run(
        """
        from anaconda_auth.token import TokenInfo
        from anaconda_auth.exceptions import StorageUnavailableError
        try:
            TokenInfo(domain="plugin.example.test", api_key="k").save()
        except StorageUnavailableError as exc:
            print(exc)
        """,
        env,
    )
    assert "'json-file' is not available" in out
    assert "/nonexistent-dir is not a writable directory" in out
