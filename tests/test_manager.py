"""The plugin manager with real distributions found through the ``anaconda_auth`` entry points."""

from __future__ import annotations

import sys
import textwrap
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from support import plugin_dists as pd
from support.config_files import write_config_toml
from support.processes import modules_loaded_by

import anaconda_auth
from anaconda_auth import hookspecs
from anaconda_auth.exceptions import PluginError
from anaconda_auth.manager import (
    BUILTIN_PLUGINS,
    PluginWarning,
    get_plugin_manager,
    plugin_infos,
    reset_plugin_manager,
)
from anaconda_auth.plugin_types import ConfigSource, ErrorHandler, StorageBackend


def _backend_plugin(backend_name: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        from anaconda_auth import hookimpl


        class Backend:
            name = {backend_name!r}
            description = "a test backend"
            priority = 1
            read_only = False

            def is_available(self):
                return True, ""

            def get_password(self, service, username):
                return None

            def set_password(self, service, username, password):
                pass

            def delete_password(self, service, username):
                pass


        @hookimpl
        def anaconda_auth_storage_backends():
            return [Backend()]
        """
    ) + textwrap.dedent(extra)


class Site:
    """A directory on sys.path where tests install distributions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, dist: str, plugin_name: str, source: str | None, version: str = "1.2.3") -> str:
        """Install ``dist`` with one plugin; ``source=None`` points it at a missing module."""
        module = f"plug_{uuid.uuid4().hex}"
        modules = {module: source} if source is not None else {}
        pd.write_dist(self.path, dist, version, {plugin_name: module}, modules)
        reset_plugin_manager()
        return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return Site(path)


def _infos() -> dict[str, Any]:
    return {i.name: i for i in plugin_infos()}


def test_hookimpl_marker_is_public() -> None:
    assert anaconda_auth.hookimpl is hookspecs.hookimpl
    from anaconda_auth import hookimpl

    assert hookimpl.project_name == "anaconda_auth"


def test_builtins_come_from_the_list_in_order() -> None:
    infos = plugin_infos()
    assert [i.name for i in infos][: len(BUILTIN_PLUGINS)] == list(BUILTIN_PLUGINS)
    assert all(i.builtin and i.distribution == "anaconda-auth" for i in infos[:5])
    assert all(i.version == anaconda_auth.__version__ for i in infos[:5])
    backends = list(get_plugin_manager().get_storage_backends())
    builtin = [n for n in backends if n in BUILTIN_PLUGINS]
    assert builtin == [n for n in BUILTIN_PLUGINS if n in builtin]  # in the list's order
    assert {"system", "environment"} <= set(builtin)
    assert _infos()["environment"].provides == ("storage backend 'environment'",)


def test_third_party_plugin_is_discovered_with_dist_and_version(site: Site) -> None:
    site.add("acme-vault", "acme", _backend_plugin("acme-vault"), version="4.5.6")
    backends = get_plugin_manager().get_storage_backends()
    assert "acme-vault" in backends
    assert list(backends)[-1] == "acme-vault"  # built-ins first
    info = _infos()["acme"]
    assert (info.distribution, info.version, info.builtin, info.status) == (
        "acme-vault",
        "4.5.6",
        False,
        "loaded",
    )
    assert info.provides == ("storage backend 'acme-vault'",)


def test_plugin_that_fails_to_import_is_skipped(site: Site) -> None:
    site.add("broken-dist", "broken", "import module_that_does_not_exist_anywhere\n")
    site.add("missing-dist", "missing", None)
    site.add("good-dist", "good", _backend_plugin("good-store"))
    with pytest.warns(PluginWarning) as record:
        backends = get_plugin_manager().get_storage_backends()
    messages = [str(w.message) for w in record]
    assert any(
        "'broken'" in m and "broken-dist" in m and "ModuleNotFoundError" in m for m in messages
    )
    assert any("'missing'" in m for m in messages)
    assert "good-store" in backends  # the others still work
    infos = _infos()
    assert infos["broken"].status.startswith("failed: ModuleNotFoundError")
    assert "module_that_does_not_exist_anywhere" in infos["broken"].status
    assert infos["missing"].status.startswith("failed: ")
    assert infos["good"].status == "loaded"


def test_plugin_whose_hook_raises_is_skipped(site: Site) -> None:
    site.add(
        "raising-dist",
        "raising",
        textwrap.dedent(
            """
            from anaconda_auth import hookimpl

            @hookimpl
            def anaconda_auth_storage_backends():
                raise RuntimeError("cannot reach the vault")
            """
        ),
    )
    site.add("good-dist", "good", _backend_plugin("good-store"))
    with pytest.warns(PluginWarning, match="'raising'.*cannot reach the vault"):
        backends = get_plugin_manager().get_storage_backends()
    assert "good-store" in backends
    status = _infos()["raising"].status
    assert status.startswith("failed: hook anaconda_auth_storage_backends raised RuntimeError")
    # once skipped it stays skipped, without a second warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "good-store" in get_plugin_manager().get_storage_backends()


def test_plugin_returning_wrong_objects_is_skipped(site: Site) -> None:
    site.add(
        "wrong-dist",
        "wrong",
        textwrap.dedent(
            """
            from anaconda_auth import hookimpl

            class HalfBackend:
                name = "half"

                def get_password(self, service, username):
                    return None

            @hookimpl
            def anaconda_auth_storage_backends():
                return [HalfBackend()]
            """
        ),
    )
    with pytest.warns(PluginWarning, match="'wrong'.*HalfBackend.*not a storage backend"):
        backends = get_plugin_manager().get_storage_backends()
    assert "half" not in backends
    assert _infos()["wrong"].status.startswith("failed:")


def test_plugin_with_unknown_hook_is_skipped(site: Site) -> None:
    site.add(
        "typo-dist",
        "typo",
        textwrap.dedent(
            """
            from anaconda_auth import hookimpl

            @hookimpl
            def anaconda_auth_storage_backend():
                return []
            """
        ),
    )
    with pytest.warns(PluginWarning, match="'typo'.*unknown hook.*anaconda_auth_storage_backend"):
        get_plugin_manager()
    assert _infos()["typo"].status.startswith("failed: implements unknown hook")


def test_duplicate_backend_names_name_both_plugins(site: Site) -> None:
    site.add("vault-one", "one", _backend_plugin("vault"))
    site.add("vault-two", "two", _backend_plugin("vault"))
    with pytest.raises(PluginError) as info:
        get_plugin_manager().get_storage_backends()
    message = str(info.value)
    assert "'vault'" in message
    assert "'one'" in message and "vault-one" in message
    assert "'two'" in message and "vault-two" in message


def test_backend_named_like_a_builtin_is_a_duplicate(site: Site) -> None:
    site.add("fake-system", "fake", _backend_plugin("system"))
    with pytest.raises(PluginError, match="'system'.*'system'.*anaconda-auth.*'fake'"):
        get_plugin_manager().get_storage_backends()


def test_duplicate_plugin_names_name_both_distributions(site: Site) -> None:
    site.add("first-dist", "same-name", _backend_plugin("first"))
    site.add("second-dist", "same-name", _backend_plugin("second"))
    with pytest.raises(PluginError) as info:
        get_plugin_manager()
    assert "'same-name'" in str(info.value)
    assert "first-dist" in str(info.value) and "second-dist" in str(info.value)


def test_plugin_named_like_a_builtin_is_an_error(site: Site) -> None:
    site.add("impostor", "system", _backend_plugin("impostor-store"))
    with pytest.raises(PluginError, match="'system'.*impostor.*anaconda-auth"):
        get_plugin_manager()


def test_disabled_by_environment(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add("acme-vault", "acme", _backend_plugin("acme-vault"))
    site.add("other-dist", "other", _backend_plugin("other-store"))
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", "acme, system")
    backends = get_plugin_manager().get_storage_backends()
    assert "acme-vault" not in backends and "system" not in backends
    assert "other-store" in backends
    infos = _infos()
    assert infos["acme"].status == "disabled" and infos["system"].status == "disabled"
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", '["other"]')
    backends = get_plugin_manager().get_storage_backends()
    assert "acme-vault" in backends and "other-store" not in backends


def test_disabled_in_config_toml(site: Site, isolated_home: Path) -> None:
    site.add("acme-vault", "acme", _backend_plugin("acme-vault"))
    assert "acme-vault" in get_plugin_manager().get_storage_backends()
    config = write_config_toml(isolated_home, '[plugin.auth]\ndisabled_plugins = ["acme"]\n')
    # no reset: the manager notices the file changed
    assert "acme-vault" not in get_plugin_manager().get_storage_backends()
    assert _infos()["acme"].status == "disabled"
    config.write_text("[plugin.auth]\ndisabled_plugins = 3\n")
    with pytest.raises(PluginError, match="disabled_plugins"):
        get_plugin_manager()


def test_a_disabled_plugin_that_would_fail_is_never_imported(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = site.add("bomb-dist", "bomb", "raise SystemExit('imported!')\n")
    monkeypatch.setenv("ANACONDA_AUTH_DISABLED_PLUGINS", "bomb")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_plugin_manager().get_storage_backends()
    assert module not in sys.modules


def test_manager_is_cached_per_process() -> None:
    pm = get_plugin_manager()
    assert get_plugin_manager() is pm
    reset_plugin_manager()
    assert get_plugin_manager() is not pm


def test_other_collection_hooks_are_checked(site: Site) -> None:
    site.add(
        "sources-dist",
        "sources",
        textwrap.dedent(
            """
            from anaconda_auth import hookimpl
            from anaconda_auth.plugin_types import ConfigSource, ErrorHandler

            class VaultError(Exception):
                pass

            @hookimpl
            def anaconda_auth_config_sources():
                return [ConfigSource("vault", 250, lambda resolved: {})]

            @hookimpl
            def anaconda_auth_error_handlers():
                return [ErrorHandler("vault", VaultError, lambda exc: 3)]
            """
        ),
    )
    pm = get_plugin_manager()
    sources = pm.get_config_sources()
    assert "vault" in [s.name for s in sources]
    assert [s.rank for s in sources] == sorted((s.rank for s in sources), reverse=True)
    assert any(exc.__name__ == "VaultError" for exc in pm.get_error_handlers())
    assert set(_infos()["sources"].provides) == {
        "config source 'vault'",
        "error handler 'VaultError'",
    }


def test_protocol_needs_no_base_class() -> None:
    class Plain:
        name = "plain"
        description = "d"
        priority = 1
        read_only = True

        def is_available(self) -> tuple[bool, str]:
            return True, ""

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            pass

        def delete_password(self, service: str, username: str) -> None:
            pass

    backend: StorageBackend = Plain()  # also checked by mypy --strict
    assert isinstance(backend, StorageBackend)
    assert not isinstance(object(), StorageBackend)
    assert ConfigSource("x", 1, lambda r: {}).location("k") == "x: k"
    assert ErrorHandler("e", ValueError, lambda e: 1).handle(ValueError()) == 1


def test_importing_the_package_loads_no_plugins() -> None:
    watched = ["anaconda_auth.manager", "pluggy", "keyring"]
    assert modules_loaded_by(["anaconda_auth", "anaconda_auth.token"], watched) == []


def test_config_toml_named_with_variables_is_read_for_disabled_plugins(
    site: Site, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANACONDA_CONFIG_TOML expands $VARS for the plugin manager as for the config model."""
    site.add("acme-vault", "acme", _backend_plugin("acme-vault"))
    (isolated_home / "cfg.toml").write_text('[plugin.auth]\ndisabled_plugins = ["acme"]\n')
    monkeypatch.setenv("HOME", str(isolated_home))
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", "$HOME/cfg.toml")
    assert "acme-vault" not in get_plugin_manager().get_storage_backends()
    assert _infos()["acme"].status == "disabled"


def test_backend_without_priority_is_accepted(site: Site) -> None:
    source = _backend_plugin("no-priority").replace("    priority = 1\n", "")
    assert "priority =" not in source
    site.add("plain-dist", "plain", source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backends = get_plugin_manager().get_storage_backends()
    from anaconda_auth.plugin_types import DEFAULT_PRIORITY, backend_priority
    from anaconda_auth.storage.access import read_order

    assert backend_priority(backends["no-priority"]) == DEFAULT_PRIORITY
    assert [b.name for b in read_order()][-1] == "no-priority"  # after system (10)


def test_preferred_storage_of_a_rejected_plugin_names_it(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anaconda_auth.exceptions import StorageUnavailableError
    from anaconda_auth.token import TokenInfo

    site.add(
        "half-dist",
        "half-plugin",
        textwrap.dedent(
            """
            from anaconda_auth import hookimpl

            class HalfBackend:
                name = "half"

            @hookimpl
            def anaconda_auth_storage_backends():
                return [HalfBackend()]
            """
        ),
    )
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "half")
    with (
        pytest.warns(PluginWarning, match="'half-plugin'"),
        pytest.raises(StorageUnavailableError) as caught,
    ):
        TokenInfo.load()
    message = str(caught.value)
    assert "The plugin 'half-plugin' (half-dist) was skipped" in message
    assert "not a storage backend" in message
