"""The entry-point cache gives what importlib.metadata gives, and sees every change at once.

``plugin_discovery.entry_points_for`` replaces ``importlib.metadata.entry_points(group=...)``
for the plugin manager and for pydantic's plugin lookup. Installing, removing or editing a
plugin must be seen by the very next process: these tests install real distributions, run
fresh interpreters, and set directory times to the past where a test needs the cache to be
trusted (a stamp younger than two seconds never is).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from support.plugin_dists import write_dist
from support.processes import run_python

from anaconda_auth import plugin_discovery

GROUPS = ("anaconda_auth", "pydantic", "console_scripts")


def backdate(*paths: Path, seconds: int = 100) -> None:
    """Set the mtime of ``paths`` well in the past (each a different second)."""
    base = time.time() - seconds
    for i, path in enumerate(paths):
        os.utime(path, (base - i, base - i))


def backdate_all(*roots: Path) -> None:
    """Backdate ``roots`` and everything in them."""
    backdate(*[p for root in roots for p in (root, *root.rglob("*"))])


def stdlib(group: str) -> list[tuple[str, str, str, str | None, str | None]]:
    return [
        (
            ep.name,
            ep.value,
            ep.group,
            ep.dist.name if ep.dist else None,
            ep.dist.version if ep.dist else None,
        )
        for ep in importlib.metadata.entry_points(group=group)
    ]


def ours(group: str) -> list[tuple[str, str, str, str | None, str | None]]:
    return [
        (
            ep.name,
            ep.value,
            ep.group,
            ep.dist.name if ep.dist else None,
            ep.dist.version if ep.dist else None,
        )
        for ep in plugin_discovery.entry_points_for(group)
    ]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture
def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two sys.path entries: shadowing names, several groups, an .egg-info, no-entry dists."""
    first, second = tmp_path / "site1", tmp_path / "site2"
    write_dist(first, "plug-a", "1.0", {"a": "plug_a"})
    write_dist(first, "Plug.Shadow", "2.0", {}, group="other")  # shadows plug_shadow below
    write_dist(first, "py-plug", "0.1", {"pp": "py_plug:Plugin"}, group="pydantic")
    write_dist(second, "plug_shadow", "1.0", {"shadowed": "plug_shadow"})
    write_dist(second, "plug-a", "0.9", {"a": "plug_a_old"})  # shadowed by site1's plug-a
    write_dist(second, "plug-b", "3.0", {"b1": "plug_b:one", "b2": "plug_b:two"})
    egg = second / "legacy_plug-1.0.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-plug\nVersion: 1.0\n")
    (egg / "entry_points.txt").write_text("[anaconda_auth]\nlegacy = legacy_plug\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    return first, second


def test_same_entry_points_as_importlib_metadata(
    sites: tuple[Path, Path], cache_home: Path
) -> None:
    expected = {group: stdlib(group) for group in GROUPS}
    assert sorted(ep[0] for ep in expected["anaconda_auth"]) == ["a", "b1", "b2", "legacy"]
    # cold (stamps too young to cache), then trusted and cached, then from the cache
    for _ in range(2):
        assert {group: ours(group) for group in GROUPS} == expected
    backdate_all(*sites)
    assert {group: ours(group) for group in GROUPS} == expected
    plugin_discovery.scanned.clear()
    assert {group: ours(group) for group in GROUPS} == expected
    assert not {str(site) for site in sites} & set(plugin_discovery.scanned), "not cached"


def test_shadowing_follows_importlib_metadata(sites: tuple[Path, Path], cache_home: Path) -> None:
    names = [ep[0] for ep in ours("anaconda_auth")]
    assert "shadowed" not in names  # Plug.Shadow in site1 (no entry points) comes first
    assert ("a", "plug_a") in [(ep[0], ep[1]) for ep in ours("anaconda_auth")]
    assert "legacy" in names


def test_loaded_object_and_distribution(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write_dist(site, "loadme", "4.5", {"x": "loadme_mod:VALUE"}, {"loadme_mod": "VALUE = 42\n"})
    monkeypatch.syspath_prepend(str(site))
    [ep] = plugin_discovery.entry_points_for("anaconda_auth")
    assert (ep.name, ep.value, ep.group) == ("x", "loadme_mod:VALUE", "anaconda_auth")
    assert ep.dist is not None and (ep.dist.name, ep.dist.version) == ("loadme", "4.5")
    assert ep.load() == 42
    sys.modules.pop("loadme_mod", None)


LIST = """
import json, sys
from anaconda_auth import plugin_discovery
eps = plugin_discovery.entry_points_for(sys.argv[1])
print(json.dumps({"eps": [[e.name, e.value, e.dist.name, e.dist.version] for e in eps],
                  "scanned": plugin_discovery.scanned}))
"""


def listing(site: Path, env: dict[str, str], group: str = "anaconda_auth") -> dict[str, list]:
    out = run_python(LIST, {**env, "PYTHONPATH": str(site)}, args=[group])
    assert out.returncode == 0, out.stderr
    result: dict[str, list] = json.loads(out.stdout)
    return result


def test_install_remove_and_edit_are_seen_by_the_next_process(
    tmp_path: Path, cache_home: Path
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    site = tmp_path / "site"
    first = write_dist(site, "first-plugin", "1.0", {"first": "first_plugin"})
    backdate(site, first, first / "entry_points.txt")
    assert listing(site, env)["eps"] == [["first", "first_plugin", "first-plugin", "1.0"]]
    warm = listing(site, env)
    assert str(site) not in warm["scanned"], "the second process should use the cache"
    assert warm["eps"] == [["first", "first_plugin", "first-plugin", "1.0"]]

    # installed: a new directory in the site, seen at once
    second = write_dist(site, "second-plugin", "2.0", {"second": "second_plugin"})
    assert sorted(e[0] for e in listing(site, env)["eps"]) == ["first", "second"]
    backdate(site, second, second / "entry_points.txt", seconds=200)
    names = sorted(e[0] for e in listing(site, env)["eps"])
    assert names == ["first", "second"]
    assert sorted(e[0] for e in listing(site, env)["eps"]) == ["first", "second"]

    # removed, and the directory's mtime put back where it was: its ctime still changed
    before = site.stat().st_mtime_ns
    shutil.rmtree(second)
    os.utime(site, ns=(before, before))
    assert [e[0] for e in listing(site, env)["eps"]] == ["first"]

    # the plugin's own entry_points.txt rewritten in place (same directory entries)
    backdate(site, first, first / "entry_points.txt", seconds=300)
    assert listing(site, env)["eps"][0][1] == "first_plugin"
    (first / "entry_points.txt").write_text("[anaconda_auth]\nfirst = first_plugin.v2\n")
    backdate(first / "entry_points.txt", seconds=50)
    assert listing(site, env)["eps"] == [["first", "first_plugin.v2", "first-plugin", "1.0"]]


def test_egg_info_rewritten_in_place_is_seen(tmp_path: Path, cache_home: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    project = tmp_path / "project"  # a `setup.py develop` checkout: its egg-info is rewritten
    egg = project / "devplug.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: devplug\nVersion: 0.1\n")
    (egg / "entry_points.txt").write_text("[console_scripts]\ndevplug = devplug:main\n")
    backdate(project, egg, egg / "entry_points.txt", seconds=500)
    assert listing(project, env)["eps"] == []
    assert listing(project, env)["eps"] == []
    (egg / "entry_points.txt").write_text("[anaconda_auth]\ndev = devplug\n")
    backdate(egg / "entry_points.txt", seconds=400)
    assert listing(project, env)["eps"] == [["dev", "devplug", "devplug", "0.1"]]


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b'{"format": 1, "entries": {"/": 3}}', b"[]"]
)
def test_a_damaged_cache_is_ignored(
    sites: tuple[Path, Path], cache_home: Path, content: bytes
) -> None:
    backdate_all(*sites)
    expected = stdlib("anaconda_auth")
    assert ours("anaconda_auth") == expected
    Path(plugin_discovery.cache_file()).write_bytes(content)
    assert ours("anaconda_auth") == expected
    assert ours("anaconda_auth") == expected


def test_a_cache_entry_for_other_stamps_is_not_trusted(
    sites: tuple[Path, Path], cache_home: Path
) -> None:
    backdate_all(*sites)
    assert ours("anaconda_auth") == stdlib("anaconda_auth")
    path = Path(plugin_discovery.cache_file())
    doc = json.loads(path.read_text())
    entry = doc["entries"][str(sites[0])]
    entry["dists"] = [[0, "evil", "6.6.6", [["anaconda_auth", "evil", "evil_mod"]]]]
    entry["stamp"][2] -= 1  # a stamp this directory does not have
    path.write_text(json.dumps(doc))
    assert "evil" not in [ep[0] for ep in ours("anaconda_auth")]


def test_an_unwritable_cache_location_is_not_an_error(
    sites: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    backdate_all(*sites)
    assert ours("anaconda_auth") == stdlib("anaconda_auth")


def test_other_distribution_finders_turn_the_cache_off(
    sites: tuple[Path, Path], cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

        @staticmethod
        def find_distributions(context: object = None) -> list[importlib.metadata.Distribution]:
            dist = sites[1] / "plug_b-3.0.dist-info"
            return [importlib.metadata.PathDistribution(dist)]

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert ours("anaconda_auth") == stdlib("anaconda_auth")
    assert not Path(plugin_discovery.cache_file()).exists()


PYDANTIC = """
import importlib.metadata, json
import anaconda_auth.token
from pydantic.plugin import _loader
assert _loader.entry_points is importlib.metadata.entry_points
print(json.dumps(sorted(type(p).__name__ for p in _loader.get_plugins())))
"""


@pytest.mark.parametrize("disabled", [None, "1", "pydplug"])
def test_pydantic_finds_its_plugins(tmp_path: Path, cache_home: Path, disabled: str | None) -> None:
    site = tmp_path / "site"
    source = (
        "class MyPydanticPlugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n\n"
        "plugin = MyPydanticPlugin()\n"
    )
    write_dist(
        site,
        "pyd-plugin",
        "1.0",
        {"pydplug": "pyd_plug_mod:plugin"},
        {"pyd_plug_mod": source},
        group="pydantic",
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(site)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    if disabled:
        env["PYDANTIC_DISABLE_PLUGINS"] = disabled
    for _ in range(2):
        out = run_python(PYDANTIC, env)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == ([] if disabled else ["MyPydanticPlugin"])


BACKPORT = """
import importlib.metadata, json, sys
import importlib_metadata  # puts its finder on sys.meta_path
from anaconda_auth import plugin_discovery
assert plugin_discovery._cacheable()
ours = [[e.name, e.value] for e in plugin_discovery.entry_points_for("anaconda_auth")]
std = [[e.name, e.value] for e in importlib.metadata.entry_points(group="anaconda_auth")]
print(json.dumps({"ours": ours, "std": std, "scanned": plugin_discovery.scanned}))
"""


def test_the_importlib_metadata_backport_keeps_the_cache(tmp_path: Path, cache_home: Path) -> None:
    pytest.importorskip("importlib_metadata")
    site = tmp_path / "site"
    info = write_dist(site, "bp-plugin", "1.0", {"bp": "bp_plugin"})
    backdate_all(site)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(site)}
    for _ in range(2):
        out = run_python(BACKPORT, env)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["ours"] == data["std"] and ["bp", "bp_plugin"] in data["ours"]
    assert str(site) not in data["scanned"]
    assert info.exists()


KEYRING = """
import json, sys
from anaconda_auth import plugin_discovery
import keyring.backend
plugin_discovery.load_keyring_backends()
import kr_plugin_mod
print(json.dumps({"called": kr_plugin_mod.CALLED, "scanned": plugin_discovery.scanned,
                  "restored": not isinstance(keyring.backend.metadata,
                                             plugin_discovery._MetadataShim)}))
"""


def test_keyring_backend_plugins_are_loaded(tmp_path: Path, cache_home: Path) -> None:
    site = tmp_path / "site"
    source = "CALLED = []\n\ndef init():\n    CALLED.append(1)\n"
    write_dist(
        site,
        "kr-plugin",
        "1.0",
        {"mine": "kr_plugin_mod:init"},
        {"kr_plugin_mod": source},
        group="keyring.backends",
    )
    backdate_all(site)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(site)}
    for _ in range(2):
        out = run_python(KEYRING, env)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["called"] == [1] and data["restored"]
    assert str(site) not in data["scanned"]
