"""Placeholder: implemented by the storage work."""

from __future__ import annotations

from collections.abc import Iterable

from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import StorageBackend


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return ()
