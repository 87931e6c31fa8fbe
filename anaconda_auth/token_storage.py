"""Choosing where tokens are read from and written to.

Reads try, in order: backends that are ``read_only`` and hold a value (the environment API key
wins over anything stored), then the preferred backend, then every other available backend by
descending ``priority``. Writes go to the preferred backend only; if it is unavailable the
write fails with the reason, and nothing is written elsewhere behind the user's back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anaconda_auth.exceptions import StorageUnavailableError

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.plugin_types import StorageBackend


def all_backends() -> dict[str, StorageBackend]:
    from anaconda_auth.manager import get_plugin_manager

    return get_plugin_manager().get_storage_backends()


def _config(config: AnacondaAuthSite | None) -> AnacondaAuthSite:
    if config is not None:
        return config
    from anaconda_auth.config import AnacondaAuthConfig

    return AnacondaAuthConfig()


def preferred_backend(config: AnacondaAuthSite | None = None) -> StorageBackend:
    """The backend new tokens are written to, or a clear error saying why it cannot be used."""
    config = _config(config)
    backends = all_backends()
    name = config.preferred_token_storage
    backend = backends.get(name)
    if backend is None:
        known = ", ".join(sorted(backends)) or "none"
        raise StorageUnavailableError(
            f"preferred_token_storage = {name!r} names no installed storage backend "
            f"(installed: {known}). Set it to one of those, or install the plugin that "
            "provides it."
        )
    ok, reason = backend.is_available()
    if not ok:
        raise StorageUnavailableError(
            f"The token storage {name!r} is not available: {reason}. "
            "Fix that, or choose another with preferred_token_storage in "
            "~/.anaconda/config.toml ([plugin.auth]) or ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE."
        )
    return backend


def read_order(config: AnacondaAuthSite | None = None) -> list[StorageBackend]:
    config = _config(config)
    backends = list(all_backends().values())
    preferred = config.preferred_token_storage
    read_only = [b for b in backends if b.read_only]
    first = [b for b in backends if b.name == preferred and not b.read_only]
    rest = sorted(
        (b for b in backends if b.name != preferred and not b.read_only),
        key=lambda b: -b.priority,
    )
    return read_only + first + rest


def read(
    service: str, username: str, config: AnacondaAuthSite | None = None
) -> tuple[str, StorageBackend] | None:
    """The first stored value and the backend it came from, or ``None``."""
    for backend in read_order(config):
        ok, _ = backend.is_available()
        if not ok:
            continue
        value = backend.get_password(service, username)
        if value is not None:
            return value, backend
    return None


def write(
    service: str, username: str, value: str, config: AnacondaAuthSite | None = None
) -> StorageBackend:
    backend = preferred_backend(config)
    backend.set_password(service, username, value)
    return backend


def delete(service: str, username: str, config: AnacondaAuthSite | None = None) -> list[str]:
    """Remove the entry from every writable backend holding it; the names of those backends."""
    removed: list[str] = []
    for backend in read_order(config):
        if backend.read_only:
            continue
        ok, _ = backend.is_available()
        if ok and backend.get_password(service, username) is not None:
            backend.delete_password(service, username)
            removed.append(backend.name)
    return removed
