"""The hooks a plugin can implement. Their docstrings are the plugin author's reference.

A plugin is a module or object with functions decorated by :data:`anaconda_auth.hookimpl`,
published in the ``anaconda_auth`` entry-point group::

    [project.entry-points.anaconda_auth]
    my-plugin = "my_package.anaconda_plugin"

The entry point's name is the plugin's name: it is what ``anaconda auth plugins`` shows and
what ``disabled_plugins`` / ``ANACONDA_AUTH_DISABLED_PLUGINS`` block.

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
    """
    raise NotImplementedError


@hookspec
def anaconda_auth_config_sources() -> Iterable[ConfigSource]:
    """Return sources of configuration values.

    Each :class:`anaconda_auth.plugin_types.ConfigSource` has a unique ``name`` and a ``rank``;
    sources with a higher rank override those with a lower one.
    """
    raise NotImplementedError


@hookspec
def anaconda_auth_error_handlers() -> Iterable[ErrorHandler]:
    """Return CLI error handlers.

    Each :class:`anaconda_auth.plugin_types.ErrorHandler` renders one exception type. The
    handler for the most specific class in the exception's MRO wins; two handlers for the same
    exception type are an error.
    """
    raise NotImplementedError
