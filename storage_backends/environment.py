"""The ``environment`` backend: a read-only API key from ``ANACONDA_AUTH_API_KEY`` / ``api_key``.

When an API key is configured it wins over every stored token, for the configured domain.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import StorageBackend


class EnvironmentBackend:
    name = "environment"
    description = "API key from ANACONDA_AUTH_API_KEY or api_key in config (read-only)"
    priority = 100
    read_only = True

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def get_password(self, service: str, username: str) -> str | None:
        from anaconda_auth.config import AnacondaAuthConfig
        from anaconda_auth.token import KEYRING_NAME

        if service != KEYRING_NAME:
            return None
        config = AnacondaAuthConfig()
        if not config.api_key or username != config.domain:
            return None
        payload = {"domain": config.domain, "api_key": config.api_key, "version": 2}
        return base64.b64encode(json.dumps(payload).encode()).decode()

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError("the environment backend is read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError("the environment backend is read-only")


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return [EnvironmentBackend()]
