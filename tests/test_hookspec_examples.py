"""The example plugin in each hook's docstring (anaconda_auth/hookspecs.py) works as written.

Each example is taken from the docstring, run as a module, registered with a fresh plugin
manager that knows only the hook specs, and the hook's result is checked against the contract
in :mod:`anaconda_auth.plugin_types`: so the plugin author's reference cannot rot.
"""

from __future__ import annotations

import inspect
import textwrap
import types
import warnings
from typing import Any

import pluggy
import pytest

from anaconda_auth import hookspecs
from anaconda_auth.plugin_types import (
    ConfigSource,
    ErrorHandler,
    StorageBackend,
    backend_priority,
)

HOOKS = [
    "anaconda_auth_storage_backends",
    "anaconda_auth_config_sources",
    "anaconda_auth_error_handlers",
]


def example_source(hook_name: str) -> str:
    """The literal block after the docstring's "Example plugin module (...)::" line."""
    doc = inspect.getdoc(getattr(hookspecs, hook_name)) or ""
    head, sep, rest = doc.partition("\nExample plugin module")
    assert sep, f"{hook_name}'s docstring has no 'Example plugin module' paragraph"
    _, colons, block = rest.partition("::\n")
    assert colons, f"{hook_name}'s example is not a literal block (a line ending in '::')"
    lines: list[str] = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break  # the docstring's text resumes
        lines.append(line)
    code = textwrap.dedent("\n".join(lines)).strip() + "\n"
    assert code.startswith("# my_package/anaconda_plugin.py"), code.splitlines()[0]
    return code


def load_example(hook_name: str) -> types.ModuleType:
    module = types.ModuleType("my_package.anaconda_plugin")
    exec(compile(example_source(hook_name), f"<{hook_name} example>", "exec"), module.__dict__)
    return module


def call_hook(module: types.ModuleType, hook_name: str) -> list[Any]:
    """Register the example with a fresh manager and return everything its hook gave."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(module, name="my-plugin")
    unknown = [c.name for c in pm.get_hookcallers(module) or [] if c.spec is None]
    assert not unknown, f"the example implements hooks that do not exist: {unknown}"
    results = getattr(pm.hook, hook_name)()
    return [item for result in results for item in result]


@pytest.mark.parametrize("hook_name", HOOKS)
def test_every_hook_has_an_example(hook_name: str) -> None:
    module = load_example(hook_name)
    assert getattr(module, hook_name).anaconda_auth_impl is not None  # decorated by hookimpl


def test_the_module_docstring_shows_the_entry_point() -> None:
    doc = hookspecs.__doc__ or ""
    assert "[project.entry-points.anaconda_auth]" in doc
    assert 'my-plugin = "my_package.anaconda_plugin"' in doc


def test_storage_backend_example() -> None:
    [backend] = call_hook(
        load_example("anaconda_auth_storage_backends"), "anaconda_auth_storage_backends"
    )
    assert isinstance(backend, StorageBackend)
    assert backend.name == "memory" and not backend.read_only
    assert backend_priority(backend) == 5
    assert backend.is_available() == (True, "")
    assert backend.get_password("Anaconda Cloud", "anaconda.com") is None
    backend.set_password("Anaconda Cloud", "anaconda.com", "secret")
    assert backend.get_password("Anaconda Cloud", "anaconda.com") == "secret"
    backend.delete_password("Anaconda Cloud", "anaconda.com")
    assert backend.get_password("Anaconda Cloud", "anaconda.com") is None


def test_storage_backend_example_through_the_plugin_manager() -> None:
    """The project's own manager accepts it too (shape checks, unique names)."""
    from anaconda_auth.manager import AnacondaAuthPluginManager

    pm = AnacondaAuthPluginManager()
    pm.register(load_example("anaconda_auth_storage_backends"), name="my-plugin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a PluginWarning would mean it was rejected
        assert list(pm.get_storage_backends()) == ["memory"]


def test_config_source_example(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_example("anaconda_auth_config_sources")
    [source] = call_hook(module, "anaconda_auth_config_sources")
    assert isinstance(source, ConfigSource)
    assert source.name == "my-company"
    from anaconda_auth.config import SOURCE_RANKS

    assert SOURCE_RANKS["dotenv"] < source.rank < SOURCE_RANKS["secrets-dir"]
    monkeypatch.delenv(module.VARIABLE, raising=False)
    assert dict(source.load({})) == {}
    monkeypatch.setenv(module.VARIABLE, "anaconda.example.com")
    assert dict(source.load({})) == {"domain": "anaconda.example.com"}
    assert source.location("domain") == module.VARIABLE


def test_config_source_example_sets_the_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered on the real manager, the example's value reaches AnacondaAuthConfig."""
    from anaconda_auth.config import AnacondaAuthConfig
    from anaconda_auth.manager import get_plugin_manager

    module = load_example("anaconda_auth_config_sources")  # conftest's isolated_home: no ANACONDA_*
    monkeypatch.setenv(module.VARIABLE, "anaconda.example.com")
    pm = get_plugin_manager()
    pm.register(module, name="my-plugin")
    try:
        assert AnacondaAuthConfig().domain == "anaconda.example.com"
        monkeypatch.setenv("ANACONDA_AUTH_DOMAIN", "env.example.com")  # a higher rank wins
        assert AnacondaAuthConfig().domain == "env.example.com"
    finally:
        pm.unregister(module, name="my-plugin")


def test_error_handler_example(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_example("anaconda_auth_error_handlers")
    [handler] = call_hook(module, "anaconda_auth_error_handlers")
    assert isinstance(handler, ErrorHandler)
    assert handler.exception is module.QuotaExceeded
    assert handler.handle(module.QuotaExceeded("100 of 100 requests used")) == 1
    assert "Quota exceeded: 100 of 100 requests used" in capsys.readouterr().err


def test_storage_backend_example_keeps_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Selected with preferred_token_storage, the example stores and serves a real token."""
    from support.tokens import jwt

    from anaconda_auth.manager import get_plugin_manager
    from anaconda_auth.token import TokenInfo

    module = load_example("anaconda_auth_storage_backends")
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "memory")
    pm = get_plugin_manager()
    pm.register(module, name="my-plugin")
    try:
        key = jwt(sub="alice")
        TokenInfo(domain="anaconda.com", api_key=key).save()
        loaded = TokenInfo.load("anaconda.com")
        assert (loaded.api_key, loaded.source) == (key, "memory")
        loaded.delete()
        [backend] = [b for b in pm.get_storage_backends().values() if b.name == "memory"]
        assert backend.get_password("Anaconda Cloud", "anaconda.com") is None
    finally:
        pm.unregister(module, name="my-plugin")
