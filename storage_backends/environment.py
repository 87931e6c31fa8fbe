"""The ``environment`` backend: a read-only API key from ``ANACONDA_AUTH_API_KEY`` / ``api_key``.

When an API key is configured (the variable, ``api_key`` in ``[plugin.auth]``, a site's table,
``.env`` or the secrets directory: any config source), it wins over every stored token, for the
configured domain only. Read-only backends come first in the read order, so nothing stored can
shadow it, and it is never written to: saving a token loaded from here does not copy the key
into a store (see :meth:`anaconda_auth.token.TokenInfo.save`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from anaconda_auth.exceptions import StorageError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import (
    KEYRING_NAME,
    TOKEN_INFO_VERSION,
    StorageBackend,
    current_config,
)


class EnvironmentBackend:
    """The configured API key, shaped like a stored :class:`~anaconda_auth.token.TokenInfo`."""

    name = "environment"
    description = "API key from ANACONDA_AUTH_API_KEY or api_key in config (read-only)"
    priority = 100
    read_only = True

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def get_password(self, service: str, username: str) -> str | None:
        if service != KEYRING_NAME:
            return None
        config = current_config()
        if not config.api_key or username != config.domain:
            return None
        payload = {
            "domain": config.domain,
            "api_key": config.api_key,
            "version": TOKEN_INFO_VERSION,
        }
        return base64.b64encode(json.dumps(payload).encode()).decode()

    def read_stamp(self, service: str, username: str) -> object:
        """What the answer depends on besides the configuration: nothing."""
        return ()

    def set_password(self, service: str, username: str, password: str) -> None:
        raise StorageError("The environment token storage is read-only.")

    def delete_password(self, service: str, username: str) -> None:
        raise StorageError(
            "The environment token storage is read-only: unset ANACONDA_AUTH_API_KEY or remove "
            "api_key from your configuration instead."
        )

    def __repr__(self) -> str:
        return "EnvironmentBackend()"


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return [EnvironmentBackend()]
