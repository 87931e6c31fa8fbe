"""The hooks a plugin can implement. Their docstrings are the plugin author's reference.

A plugin is a module (or any object) with functions decorated by
:data:`anaconda_auth.hookimpl`. Publish it in the ``anaconda_auth`` entry-point group of your
distribution's ``pyproject.toml``::

    [project.entry-points.anaconda_auth]
    my-plugin = "my_package.anaconda_plugin"

The entry point's name is the plugin's name: it is what ``anaconda auth plugins`` shows and
what ``disabled_plugins`` / ``ANACONDA_AUTH_DISABLED_PLUGINS`` block. One module may implement
several hooks. Each hook below ends with a complete example module (the test suite runs them).

The hooks below are *collection* hooks: each returns an iterable of small registration
objects. They are called once per process (the results are cached), take no arguments, and
must be cheap and free of side effects: import heavy libraries inside the objects' methods, not
at module level. A plugin whose hook raises, or returns an object of the wrong kind, is skipped
with a :class:`anaconda_auth.manager.PluginWarning`; two objects with the same name (across
all plugins) are a :class:`anaconda_auth.exceptions.PluginError`. Hook wrappers are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from anaconda_auth.plugin_types import ConfigSource, ErrorHandler, StorageBackend

PROJECT_NAME = "anaconda_auth"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    """Return token storage backends.

    Each object must satisfy :class:`anaconda_auth.plugin_types.StorageBackend` (a
    :class:`typing.Protocol`: any object with those attributes, no base class needed). Its
    ``name`` must be unique across all plugins; users select it with
    ``preferred_token_storage = "<name>"`` in ``[plugin.auth]`` of ``~/.anaconda/config.toml``
    or ``ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE``. The objects live for the whole process, so
    they may cache (for example the answer of ``is_available()``).

    ``priority`` is optional (see :func:`anaconda_auth.plugin_types.backend_priority`), and so
    is ``read_stamp`` (see :class:`anaconda_auth.plugin_types.StampedStorageBackend`), and
    ``check_writable`` (see :class:`anaconda_auth.plugin_types.WriteCheckedStorageBackend`).

    Example plugin module (tokens in memory: gone when the process ends)::

        # my_package/anaconda_plugin.py
        from anaconda_auth import hookimpl


        class MemoryStorage:
            name = "memory"  # what preferred_token_storage selects
            description = "in-process memory (example: nothing survives the process)"
            read_only = False
            priority = 5  # optional: read after the built-ins (system is 10)

            def __init__(self) -> None:
                self._entries: dict[tuple[str, str], str] = {}

            def is_available(self) -> tuple[bool, str]:
                return True, ""

            def get_password(self, service: str, username: str) -> str | None:
                return self._entries.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self._entries[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self._entries.pop((service, username), None)


        @hookimpl
        def anaconda_auth_storage_backends() -> list[MemoryStorage]:
            return [MemoryStorage()]
    """
    raise NotImplementedError


@hookspec
def anaconda_auth_config_sources() -> Iterable[ConfigSource]:
    """Return sources of configuration values.

    Each :class:`anaconda_auth.plugin_types.ConfigSource` has a unique ``name`` and a ``rank``;
    sources with a higher rank override those with a lower one. The built-in ranks are in
    ``anaconda_auth.config.SOURCE_RANKS``: pick a number between two of them. ``load`` gets
    the raw values the higher-ranked sources set and returns raw values (strings are fine for
    every key: the model parses them); it runs on every configuration build, so keep it cheap.

    Example plugin module (a company-wide variable naming the domain)::

        # my_package/anaconda_plugin.py
        import os
        from collections.abc import Mapping
        from typing import Any

        from anaconda_auth import hookimpl
        from anaconda_auth.plugin_types import ConfigSource

        VARIABLE = "MY_COMPANY_ANACONDA_DOMAIN"


        def load(resolved: Mapping[str, Any]) -> dict[str, Any]:
            domain = os.environ.get(VARIABLE, "")
            return {"domain": domain} if domain else {}


        @hookimpl
        def anaconda_auth_config_sources() -> list[ConfigSource]:
            source = ConfigSource(
                name="my-company",
                rank=450,  # below the secrets directory (500), above .env (400)
                load=load,
                description=f"${VARIABLE}",
                where=lambda key: VARIABLE,  # named in error messages and `anaconda auth config`
            )
            return [source]
    """
    raise NotImplementedError


@hookspec
def anaconda_auth_error_handlers() -> Iterable[ErrorHandler]:
    """Return CLI error handlers.

    Each :class:`anaconda_auth.plugin_types.ErrorHandler` renders one exception type. The
    handler for the most specific class in the exception's MRO wins; two handlers for the same
    exception type are an error. ``handle(exc)`` prints its message (to stderr) and returns the
    exit code, or :data:`anaconda_auth.plugin_types.RETRY_AFTER_LOGIN` after it has logged the
    user in itself, to have the command run once more.

    Example plugin module (one exception of your package, rendered in one line)::

        # my_package/anaconda_plugin.py
        import sys

        from anaconda_auth import hookimpl
        from anaconda_auth.plugin_types import ErrorHandler


        class QuotaExceeded(Exception):
            pass  # in a real plugin, imported from your package


        def render_quota(exc: BaseException) -> int:
            print(f"Quota exceeded: {exc}. Ask your administrator for more.", file=sys.stderr)
            return 1


        @hookimpl
        def anaconda_auth_error_handlers() -> list[ErrorHandler]:
            return [ErrorHandler("quota-exceeded", QuotaExceeded, render_quota)]
    """
    raise NotImplementedError
