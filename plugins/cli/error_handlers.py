"""Built-in CLI error handlers (placeholder until the CLI issue fills it)."""

from __future__ import annotations

from collections.abc import Iterable

from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import ErrorHandler


@hookimpl
def anaconda_auth_error_handlers() -> Iterable[ErrorHandler]:
    return ()
