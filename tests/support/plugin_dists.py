"""Real installed distributions for plugin tests: a .dist-info with entry_points.txt on sys.path.

importlib.metadata finds these exactly as it finds a pip-installed plugin, so the plugin manager
discovers them through the real ``anaconda_auth`` entry-point group.
"""

from __future__ import annotations

import importlib
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest


def write_dist(
    site: Path,
    dist_name: str,
    version: str,
    entry_points: dict[str, str],
    modules: dict[str, str] | None = None,
    group: str = "anaconda_auth",
) -> Path:
    """Write ``modules`` (dotted name -> source) and ``<dist>-<version>.dist-info`` in ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for dotted, source in (modules or {}).items():
        parts = dotted.split(".")
        directory = site.joinpath(*parts[:-1])
        directory.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(parts)):
            init = site.joinpath(*parts[:i], "__init__.py")
            if not init.exists():
                init.write_text("")
        (directory / f"{parts[-1]}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
    )
    lines = [f"[{group}]"] + [f"{name} = {value}" for name, value in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (info / "RECORD").write_text("")
    return info


#: A storage plugin keeping values in memory: ``backends(...)`` makes the backends it registers.
#: ``OFF_<NAME>`` in the environment (name upper-cased, dashes as underscores) makes one
#: unavailable; ``CALLS`` records every call, so tests can see what the read order touched.
MEMORY_PLUGIN = """
import os

from anaconda_auth import hookimpl

CALLS = []


class MemoryBackend:
    read_only = False

    def __init__(self, name, priority):
        self.name = name
        self.priority = priority
        self.description = f"in-memory store {name}"
        self.store = {}

    def _off(self):
        return os.environ.get("OFF_" + self.name.upper().replace("-", "_"))

    def is_available(self):
        CALLS.append((self.name, "is_available"))
        reason = self._off()
        return (False, reason) if reason else (True, "")

    def get_password(self, service, username):
        CALLS.append((self.name, "get"))
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        CALLS.append((self.name, "set"))
        if os.environ.get("FAIL_SET_" + self.name.upper().replace("-", "_")):
            raise RuntimeError(f"disk full while writing {password}")
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        CALLS.append((self.name, "delete"))
        del self.store[(service, username)]


@hookimpl
def anaconda_auth_storage_backends():
    return [MemoryBackend(name, priority) for name, priority in BACKENDS]
"""


def memory_plugin(backends: dict[str, int]) -> str:
    """Source of a memory storage plugin registering ``backends`` (name -> priority)."""
    return MEMORY_PLUGIN + f"\nBACKENDS = {sorted(backends.items())!r}\n"


def install_memory_storage(site: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Two in-memory backends from a real installed plugin: mem-a (priority 60), mem-b (20).

    The built-in file and OS keyring backends are disabled so only these and ``environment``
    take part; mem-a is preferred. Returns the plugin module (``CALLS`` empty).
    """
    from anaconda_auth.manager import get_plugin_manager, reset_plugin_manager

    module = f"memplugin_{uuid.uuid4().hex}"
    write_dist(
        site,
        "memory-storage",
        "1.0",
        {"memory": module},
        {module: memory_plugin({"mem-a": 60, "mem-b": 20})},
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", "anaconda-keyring,system")
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "mem-a")
    reset_plugin_manager()
    backends = get_plugin_manager().get_storage_backends()
    assert {"mem-a", "mem-b", "environment"} <= set(backends)
    plugin = importlib.import_module(module)
    plugin.CALLS.clear()
    return plugin


def memory_store(name: str = "mem-a") -> dict[tuple[str, str], str]:
    """What the memory backend ``name`` holds: ``{(service, username): value}``."""
    from anaconda_auth.manager import get_plugin_manager

    backend = get_plugin_manager().get_storage_backends()[name]
    store: dict[tuple[str, str], str] = backend.store  # type: ignore[attr-defined]
    return store
