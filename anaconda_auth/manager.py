"""The plugin manager: built-in plugins from one list, third parties from entry points.

Built-ins are registered exactly like external plugins, so every hook has one code path.
A third-party plugin that fails to import, implements an unknown hook, or whose hook raises or
returns something that is not a registration object, is reported (a :class:`PluginWarning` and
its status in :func:`plugin_infos`) and skipped: a broken plugin must never stop anyone logging
in. Two plugins, or two registration objects, with the same name are a :class:`PluginError`
naming both.

The manager is built once per process and rebuilt only when the set of disabled plugins changes
(``ANACONDA_AUTH_DISABLED_PLUGINS`` or ``disabled_plugins`` in ``config.toml``). Hook results
are collected once per manager, so a lookup on the hot path is a dictionary copy.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from anaconda_auth import freshness, hookspecs
from anaconda_auth._version import __version__
from anaconda_auth.config.files import read_config_toml
from anaconda_auth.exceptions import PluginError, PluginWarning
from anaconda_auth.plugin_discovery import PluginEntryPoint, entry_points_for
from anaconda_auth.plugin_types import ConfigSource, ErrorHandler, StorageBackend
from anaconda_auth.plugins import config_sources
from anaconda_auth.storage_backends import anaconda_keyring, environment, system

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "anaconda_auth"
DISABLED_PLUGINS_ENV = "ANACONDA_AUTH_DISABLED_PLUGINS"

#: Every built-in plugin of the core, by the name users see. Each imports only the plugin
#: contract (or the low config modules), so the manager can import them. The CLI, which sits
#: above the core, adds its own error-handler plugin with :meth:`register_builtin`.
BUILTIN_PLUGINS: dict[str, ModuleType] = {
    "anaconda-keyring": anaconda_keyring,
    "system": system,
    "environment": environment,
    "config-sources": config_sources,
}

#: The collection hooks: what each returns, the type every item must have, and the attribute
#: that must be unique across plugins.
COLLECTION_HOOKS: dict[str, tuple[str, type, str]] = {
    "anaconda_auth_storage_backends": ("storage backend", StorageBackend, "name"),
    "anaconda_auth_config_sources": ("config source", ConfigSource, "name"),
    "anaconda_auth_error_handlers": ("error handler", ErrorHandler, "exception"),
}


@dataclass(frozen=True)
class PluginInfo:
    """What ``anaconda auth plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool
    status: str  # "loaded", "disabled" or "failed: <reason>"
    #: What the plugin registered, e.g. ``("storage backend 'system'",)``.
    provides: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "loaded"


def _describe(info: PluginInfo | None, name: str) -> str:
    if info is None:
        return repr(name)
    origin = f"{info.distribution} {info.version}" if info.distribution else info.module
    return f"{name!r} ({origin})"


class AnacondaAuthPluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._results: dict[str, list[tuple[str, Any]]] = {}
        self._lock = threading.RLock()
        self._storage: dict[str, StorageBackend] | None = None
        self._sources: list[ConfigSource] | None = None
        self._handlers: dict[type[BaseException], ErrorHandler] | None = None
        #: The plugin names disabled by configuration when this manager was built.
        self.disabled: frozenset[str] = frozenset()
        #: Bumped whenever the set of plugins changes, so callers can key caches on it.
        self.generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register a plugin (pluggy's ``register``); also valid after hooks were collected."""
        registered = super().register(plugin, name)
        if registered is not None and registered not in self.infos:
            module = getattr(plugin, "__name__", None) or type(plugin).__module__
            self._record(PluginInfo(registered, module, None, None, False, "loaded"))
        self._clear_results()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any | None:
        if name is None and plugin is not None:
            name = self.get_name(plugin)
        removed = super().unregister(plugin, name)
        info = self.infos.get(name) if name is not None else None
        if info is not None and info.ok:
            del self.infos[info.name]  # unregistered on purpose; a failure keeps its status
        self._clear_results()
        return removed

    # -- loading ---------------------------------------------------------------------------

    def _record(self, info: PluginInfo) -> None:
        self.infos[info.name] = info

    def _fail(self, name: str, reason: str) -> None:
        """Mark a third-party plugin failed, unregister it, and warn naming it."""
        old = self.infos.get(name)
        if old is not None:
            self._record(replace(old, status=f"failed: {reason}", provides=()))
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin, name=name)
        self._clear_results()
        warnings.warn(
            f"anaconda-auth plugin {_describe(old, name)} was skipped: {reason}",
            PluginWarning,
            stacklevel=4,
        )

    def _clear_results(self) -> None:
        self.generation += 1
        freshness.note_local_change()
        self._results.clear()
        self._storage = None
        self._sources = None
        self._handlers = None

    def _unknown_hooks(self, name: str) -> list[str]:
        plugin = self.get_plugin(name)
        callers = self.get_hookcallers(plugin) or []
        return sorted(c.name for c in callers if c.spec is None)

    def load_builtins(self, disabled: frozenset[str]) -> None:
        for name, module in BUILTIN_PLUGINS.items():
            self.register_builtin(module, name, disabled)

    def register_builtin(
        self, module: ModuleType, name: str, disabled: frozenset[str] | None = None
    ) -> None:
        """Register a plugin of anaconda-auth itself (unless disabled); a no-op if present."""
        if name in self.infos:
            return
        if disabled is None:
            disabled = self.disabled
        status = "disabled" if name in disabled else "loaded"
        self._record(PluginInfo(name, module.__name__, "anaconda-auth", __version__, True, status))
        if name not in disabled:
            self.register(module, name=name)

    def load_entry_points(self, disabled: frozenset[str]) -> None:
        seen: dict[str, PluginEntryPoint] = {}
        for ep in entry_points_for(ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in seen and seen[ep.name].value == ep.value:
                continue  # the same distribution found twice on sys.path
            if ep.name in self.infos:
                other = self.infos[ep.name]
                raise PluginError(
                    f"Two anaconda-auth plugins are named {ep.name!r}: {ep.value} "
                    f"(from {dist or 'an unknown distribution'}) and {other.module} "
                    f"(from {other.distribution or 'an unknown distribution'}). "
                    "Uninstall one of them."
                )
            seen[ep.name] = ep
            if ep.name in disabled:
                self._record(PluginInfo(ep.name, ep.value, dist, version, False, "disabled"))
                continue
            self._record(PluginInfo(ep.name, ep.value, dist, version, False, "loaded"))
            try:
                plugin: Any = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break login
                log.debug("plugin %s failed to load", ep.name, exc_info=True)
                self._fail(ep.name, f"{type(exc).__name__}: {exc}")
                continue
            unknown = self._unknown_hooks(ep.name)
            if unknown:
                self._fail(
                    ep.name,
                    f"implements unknown hook(s) {', '.join(unknown)} (a typo, or a plugin "
                    "written for a newer anaconda-auth)",
                )

    # -- collection hooks ------------------------------------------------------------------

    def _collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Every item returned by a collection hook, with the name of the plugin returning it.

        Plugins in registration order (built-ins first). A third-party implementation that
        raises or returns the wrong kind of object fails its plugin; a built-in one raises.
        """
        with self._lock:
            cached = self._results.get(hook_name)
            if cached is not None:
                return cached
            kind, expected, _ = COLLECTION_HOOKS[hook_name]
            results: list[tuple[str, Any]] = []
            for impl in getattr(self.hook, hook_name).get_hookimpls():
                if impl.hookwrapper or impl.wrapper:
                    continue  # collection hooks return data; wrappers have nothing to wrap
                name = self.get_name(impl.plugin) or impl.plugin_name
                info = self.infos.get(name)
                try:
                    items = list(impl.function() or ())
                    bad = [item for item in items if not isinstance(item, expected)]
                    if bad:
                        raise TypeError(
                            f"returned {type(bad[0]).__name__!r}, which is not a {kind} "
                            f"({expected.__module__}.{expected.__qualname__})"
                        )
                except Exception as exc:
                    if info is None or info.builtin:
                        raise
                    self._fail(name, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                    # the failed plugin is unregistered and the caches cleared: start again
                    return self._collect(hook_name)
                results.extend((name, item) for item in items)
            self._results[hook_name] = results
            return results

    def _unique(self, hook_name: str) -> dict[Any, tuple[str, Any]]:
        kind, _, key = COLLECTION_HOOKS[hook_name]
        found: dict[Any, tuple[str, Any]] = {}
        for plugin_name, item in self._collect(hook_name):
            item_key = getattr(item, key)
            if item_key in found:
                first = found[item_key][0]
                label = item_key.__name__ if isinstance(item_key, type) else item_key
                raise PluginError(
                    f"Two {kind}s are named {label!r}: one from plugin "
                    f"{_describe(self.infos.get(first), first)} and one from plugin "
                    f"{_describe(self.infos.get(plugin_name), plugin_name)}. "
                    f"Uninstall one, or disable it with {DISABLED_PLUGINS_ENV} or "
                    "disabled_plugins in ~/.anaconda/config.toml."
                )
            found[item_key] = (plugin_name, item)
        return found

    def get_storage_backends(self) -> dict[str, StorageBackend]:
        """Backends by name, in registration order (built-ins first)."""
        storage = self._storage
        if storage is None:
            found = self._unique("anaconda_auth_storage_backends")
            storage = self._storage = {name: backend for name, (_, backend) in found.items()}
        return dict(storage)

    def get_config_sources(self) -> list[ConfigSource]:
        """Config sources, highest rank first."""
        sources = self._sources
        if sources is None:
            found = self._unique("anaconda_auth_config_sources")
            sources = self._sources = sorted((s for _, s in found.values()), key=lambda s: -s.rank)
        return list(sources)

    def get_error_handlers(self) -> dict[type[BaseException], ErrorHandler]:
        handlers = self._handlers
        if handlers is None:
            found = self._unique("anaconda_auth_error_handlers")
            handlers = self._handlers = {exc: h for exc, (_, h) in found.items()}
        return dict(handlers)

    def plugin_infos(self) -> list[PluginInfo]:
        """Every plugin with its status, after calling each collection hook once.

        Calling the hooks first means a plugin whose hook raises shows up as failed.
        """
        provides: dict[str, list[str]] = {}
        for hook_name, (kind, _, key) in COLLECTION_HOOKS.items():
            for plugin_name, item in self._collect(hook_name):
                value = getattr(item, key)
                label = value.__name__ if isinstance(value, type) else value
                provides.setdefault(plugin_name, []).append(f"{kind} {label!r}")
        return [
            replace(info, provides=tuple(provides.get(name, ()))) if info.ok else info
            for name, info in self.infos.items()
        ]


def _split_names(raw: Any, where: str) -> Iterable[str]:
    if isinstance(raw, str):
        raw = raw.strip()
        if raw.startswith("["):
            try:
                raw = json.loads(raw)
            except RecursionError:
                raise PluginError(f"{where} is not a usable JSON list: nested too deeply") from None
            except ValueError as exc:
                raise PluginError(f"{where} is not a valid JSON list: {exc}") from None
        else:
            raw = raw.split(",")
    if not isinstance(raw, list):
        raise PluginError(
            f"{where} must be a list of plugin names (or a comma-separated string), got {raw!r}"
        )
    return (str(n).strip() for n in raw if str(n).strip())


def disabled_plugin_names() -> frozenset[str]:
    """Names from ``ANACONDA_AUTH_DISABLED_PLUGINS`` and ``[plugin.auth] disabled_plugins``.

    Read before any plugin is loaded, so only these two places count (a plugin's own config
    source cannot disable plugins).
    """
    names: set[str] = set()
    env = os.environ.get(DISABLED_PLUGINS_ENV)
    if env:
        names.update(_split_names(env, DISABLED_PLUGINS_ENV))
    path = freshness.config_toml_path()
    try:
        document = read_config_toml(Path(path)) if path is not None else {}
    except ValueError:
        document = {}  # the config loader reports a malformed file with its name
    plugin = document.get("plugin")
    table = plugin.get("auth") if isinstance(plugin, dict) else None
    # a wrongly shaped [plugin] or [plugin.auth] is reported by the config loader, by name
    if isinstance(table, dict) and "disabled_plugins" in table:
        names.update(_split_names(table["disabled_plugins"], f"disabled_plugins in {path}"))
    return frozenset(names)


_lock = threading.Lock()
_managers: dict[frozenset[str], AnacondaAuthPluginManager] = {}
#: The inputs of the last disabled-plugins computation and the manager they selected.
_current: tuple[tuple[Any, ...], AnacondaAuthPluginManager] | None = None
#: An environment snapshot and the variable and path computed from it.
_env_inputs: tuple[dict[Any, Any], str | None, str | None] | None = None


def _inputs_key() -> tuple[Any, ...]:
    """What ``disabled_plugin_names`` depends on, cheaply: the variable and the file's stamp."""
    global _env_inputs
    cached = _env_inputs
    if cached is not None and freshness.env_unchanged(cached[0]):
        disabled, path = cached[1], cached[2]
    else:
        snapshot = freshness.env_snapshot()
        disabled, path = os.environ.get(DISABLED_PLUGINS_ENV), freshness.config_toml_path()
        _env_inputs = (snapshot, disabled, path)
    try:
        stamp: object = freshness.stat_stamp(path) if path is not None else None
    except (freshness.Racy, OSError):
        stamp = object()  # never equal: computed again next time
    return (disabled, path, stamp)


def _build(disabled: frozenset[str]) -> AnacondaAuthPluginManager:
    pm = AnacondaAuthPluginManager()
    pm.disabled = disabled
    pm.load_builtins(disabled)
    pm.load_entry_points(disabled)
    return pm


def get_plugin_manager() -> AnacondaAuthPluginManager:
    """The process-wide plugin manager, built on first use."""
    global _current
    key = _inputs_key()
    current = _current
    if current is not None and current[0] == key:
        return current[1]
    with _lock:
        disabled = disabled_plugin_names()
        pm = _managers.get(disabled)
        if pm is None:
            pm = _managers[disabled] = _build(disabled)
        _current = (key, pm)
        return pm


def reset_plugin_manager() -> None:
    """Forget the cached managers (tests, or after installing a plugin in-process)."""
    global _current
    with _lock:
        _managers.clear()
        _current = None


def plugin_infos() -> list[PluginInfo]:
    """Every plugin with its distribution, version and status, for ``anaconda auth plugins``."""
    return get_plugin_manager().plugin_infos()
