"""The plugin manager: built-in plugins from one list, third parties from entry points.

Built-ins are registered exactly like external plugins, so every hook has one code path.
A third-party plugin that fails to import, or whose hook raises, is reported and skipped: a
broken plugin must never stop anyone logging in.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from anaconda_auth import hookspecs
from anaconda_auth.exceptions import PluginError
from anaconda_auth.plugin_types import ConfigSource, ErrorHandler, StorageBackend

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "anaconda_auth"
DISABLED_PLUGINS_ENV = "ANACONDA_AUTH_DISABLED_PLUGINS"

#: Every built-in plugin, by the name users see and the module that implements it.
BUILTIN_PLUGINS: dict[str, str] = {
    "anaconda-keyring": "anaconda_auth.storage_backends.anaconda_keyring",
    "system": "anaconda_auth.storage_backends.system",
    "environment": "anaconda_auth.storage_backends.environment",
    "config-sources": "anaconda_auth.plugins.config_sources",
    "cli-error-handlers": "anaconda_auth.plugins.cli.error_handlers",
}


class PluginWarning(UserWarning):
    """A third-party plugin was skipped."""


@dataclass(frozen=True)
class PluginInfo:
    """What ``anaconda auth plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool
    status: str  # "loaded", "disabled" or "failed: <reason>"

    @property
    def ok(self) -> bool:
        return self.status == "loaded"


class AnacondaAuthPluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    def _record(self, info: PluginInfo) -> None:
        self.infos[info.name] = info

    def _fail(self, name: str, reason: str) -> None:
        old = self.infos.get(name)
        if old is not None:
            self._record(
                PluginInfo(
                    old.name,
                    old.module,
                    old.distribution,
                    old.version,
                    old.builtin,
                    f"failed: {reason}",
                )
            )
        warnings.warn(
            f"anaconda-auth plugin {name!r} was skipped: {reason}", PluginWarning, stacklevel=3
        )

    def load_builtins(self, disabled: frozenset[str]) -> None:
        from anaconda_auth import __version__

        for name, module_name in BUILTIN_PLUGINS.items():
            status = "disabled" if name in disabled else "loaded"
            self._record(PluginInfo(name, module_name, "anaconda-auth", __version__, True, status))
            if name in disabled:
                continue
            self.register(importlib.import_module(module_name), name=name)

    def load_entry_points(self, disabled: frozenset[str]) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.infos:
                other = self.infos[ep.name]
                raise PluginError(
                    f"Two anaconda-auth plugins are named {ep.name!r}: {ep.value} "
                    f"(from {dist or 'unknown distribution'}) and {other.module} "
                    f"(from {other.distribution or 'unknown distribution'}). "
                    "Uninstall one of them."
                )
            info = PluginInfo(ep.name, ep.value, dist, version, False, "loaded")
            self._record(info)
            if ep.name in disabled:
                self._record(PluginInfo(ep.name, ep.value, dist, version, False, "disabled"))
                continue
            try:
                plugin: ModuleType | Any = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break login
                log.debug("plugin %s failed to load", ep.name, exc_info=True)
                self._fail(ep.name, f"{type(exc).__name__}: {exc}")

    def _collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call every implementation of a collection hook, skipping those that raise."""
        results: list[tuple[str, Any]] = []
        hook = getattr(self.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            name = self.get_name(impl.plugin) or impl.plugin_name
            try:
                returned = impl.function()
                items = list(returned or ())
            except Exception as exc:  # noqa: BLE001
                info = self.infos.get(name)
                if info is not None and info.builtin:
                    raise
                self._fail(name, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                continue
            results.extend((name, item) for item in items)
        return results

    def _unique(self, hook_name: str, kind: str, key: str) -> dict[Any, tuple[str, Any]]:
        found: dict[Any, tuple[str, Any]] = {}
        for plugin_name, item in self._collect(hook_name):
            item_key = getattr(item, key)
            if item_key in found:
                raise PluginError(
                    f"Two {kind}s are named {item_key!r}: one from plugin "
                    f"{found[item_key][0]!r} and one from plugin {plugin_name!r}. "
                    f"Disable one with {DISABLED_PLUGINS_ENV}."
                )
            found[item_key] = (plugin_name, item)
        return found

    def get_storage_backends(self) -> dict[str, StorageBackend]:
        """Backends by name, in registration order (built-ins first)."""
        found = self._unique("anaconda_auth_storage_backends", "storage backend", "name")
        return {name: backend for name, (_, backend) in found.items()}

    def get_config_sources(self) -> list[ConfigSource]:
        """Config sources, highest rank first."""
        found = self._unique("anaconda_auth_config_sources", "config source", "name")
        return sorted((src for _, src in found.values()), key=lambda s: -s.rank)

    def get_error_handlers(self) -> dict[type[BaseException], ErrorHandler]:
        found = self._unique("anaconda_auth_error_handlers", "error handler", "exception")
        return {exc: handler for exc, (_, handler) in found.items()}

    def plugin_infos(self) -> list[PluginInfo]:
        return list(self.infos.values())


def _split_names(raw: Any) -> Iterable[str]:
    if isinstance(raw, str):
        raw = raw.strip()
        raw = json.loads(raw) if raw.startswith("[") else raw.split(",")
    if not isinstance(raw, list):
        raise PluginError(f"disabled_plugins must be a list of plugin names, got {raw!r}")
    return (str(n).strip() for n in raw if str(n).strip())


def disabled_plugin_names() -> frozenset[str]:
    """Names from ``ANACONDA_AUTH_DISABLED_PLUGINS`` and ``[plugin.auth] disabled_plugins``.

    Read before any plugin is loaded, so only these two places count (a plugin's own config
    source cannot disable plugins).
    """
    from anaconda_auth._paths import read_config_toml

    names: set[str] = set()
    env = os.environ.get(DISABLED_PLUGINS_ENV)
    if env:
        names.update(_split_names(env))
    try:
        table = read_config_toml().get("plugin", {}).get("auth", {})
    except ValueError:
        table = {}  # the config loader reports a malformed file with its name
    if "disabled_plugins" in table:
        names.update(_split_names(table["disabled_plugins"]))
    return frozenset(names)


@lru_cache(maxsize=8)
def _build(disabled: frozenset[str]) -> AnacondaAuthPluginManager:
    pm = AnacondaAuthPluginManager()
    pm.load_builtins(disabled)
    pm.load_entry_points(disabled)
    return pm


def get_plugin_manager() -> AnacondaAuthPluginManager:
    """The process-wide plugin manager, built on first use."""
    return _build(disabled_plugin_names())


def reset_plugin_manager() -> None:
    """Forget the cached manager (tests, or after installing a plugin in-process)."""
    _build.cache_clear()


def plugin_infos() -> list[PluginInfo]:
    """Loaded plugins with their distribution, version and status, for ``anaconda auth plugins``."""
    return get_plugin_manager().plugin_infos()
