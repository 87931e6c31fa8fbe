"""Choosing where tokens are read from and written to.

Backends come from the ``anaconda_auth_storage_backends`` hook (built-ins: ``environment``,
``anaconda-keyring``, ``system``; plus any plugin's). ``preferred_token_storage`` names one.

Read order (:func:`read_order`):

1. read-only backends, highest ``priority`` first: the ``environment`` API key, when set, wins
   over anything stored;
2. the preferred backend;
3. every other writable backend, highest ``priority`` first (anaconda-keyring 50 before
   system 10), so a token written before ``preferred_token_storage`` changed is still found.

A backend's ``is_available()`` is asked only when the read reaches it, so a read that the
first backends answer never touches the OS keyring. An unavailable backend other than the
preferred one is skipped. If the preferred backend is unavailable (or not installed), a read
that finds nothing elsewhere raises :class:`StorageUnavailableError` with the reason instead of
reporting "not logged in": the token may well be in there.

Writes go to the preferred backend only; if it is unavailable or read-only the write fails with
the reason, and nothing is written elsewhere behind the user's back. Before a login starts,
:func:`preferred_backend` also asks the backend's optional ``check_writable()`` whether a write
would succeed now (``anaconda-keyring``: its directory accepts files, its lock can be taken),
so no API key is minted on the server that then cannot be saved. Deletes remove the entry
from every available writable backend holding it, and fail if the preferred one is unavailable.

Backends that need configuration (a file path, say) call
:func:`anaconda_auth.plugin_types.current_config`, which returns
the configuration of the operation in progress without resolving it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anaconda_auth.config  # noqa: F401 - registers the default config for backends
from anaconda_auth import freshness, plugin_types
from anaconda_auth.exceptions import StorageError, StorageUnavailableError
from anaconda_auth.manager import AnacondaAuthPluginManager, get_plugin_manager
from anaconda_auth.plugin_types import backend_priority, current_config, using_config

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.plugin_types import StorageBackend

log = logging.getLogger(__name__)

T = TypeVar("T")

_HOW_TO_CHOOSE = (
    "choose another with preferred_token_storage in ~/.anaconda/config.toml ([plugin.auth]) "
    "or ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE"
)


def _config(config: AnacondaAuthSite | None) -> AnacondaAuthSite:
    return config if config is not None else current_config()


def all_backends() -> dict[str, StorageBackend]:
    """Every installed backend by name (built-ins first)."""
    return get_plugin_manager().get_storage_backends()


def _manager() -> AnacondaAuthPluginManager:
    return get_plugin_manager()


def _available(backend: StorageBackend) -> tuple[bool, str]:
    try:
        ok, reason = backend.is_available()
    except Exception as exc:  # noqa: BLE001 - a plugin's bug makes it unavailable, not fatal
        log.debug("is_available() of %s raised", backend.name, exc_info=True)
        return False, f"its is_available() raised {type(exc).__name__}: {exc}"
    return bool(ok), str(reason or "")


def _call(
    backend: StorageBackend, action: str, fn: Callable[..., T], *args: str, secret: str = ""
) -> T:
    """Run one backend operation; anything but a StorageError becomes one naming the backend."""
    try:
        return fn(*args)
    except StorageError:
        raise
    except Exception as exc:
        message = str(exc)
        if secret and secret in message:
            message = message.replace(secret, "<redacted>")
        error = StorageError(
            f"The token storage {backend.name!r} failed to {action}: "
            f"{type(exc).__name__}: {message}"
        )
        if secret:
            raise error from None  # the original may carry the value in its args
        raise error from exc


def _unavailable(name: str, reason: str) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"The token storage {name!r} is not available: {reason}. Fix that, or {_HOW_TO_CHOOSE}."
    )


def _not_installed(name: str, backends: dict[str, StorageBackend]) -> StorageUnavailableError:
    known = ", ".join(sorted(backends)) or "none"
    failed = [info for info in _manager().infos.values() if info.status.startswith("failed")]
    skipped = "".join(
        f" The plugin {info.name!r} ({info.distribution or info.module}) was skipped "
        f"({info.status.removeprefix('failed: ')}); it may be the one that provides {name!r}."
        for info in failed
    )
    return StorageUnavailableError(
        f"preferred_token_storage = {name!r} names no installed storage backend "
        f"(installed: {known}).{skipped} Set it to one of the installed ones, or install (or "
        "fix) the plugin that provides it."
    )


def _check_writable(backend: StorageBackend) -> None:
    """Raise :class:`StorageUnavailableError` when the backend's optional ``check_writable()``
    says a write would fail now."""
    probe = getattr(backend, "check_writable", None)
    if probe is None:
        return
    try:
        ok, reason = probe()
    except Exception as exc:  # noqa: BLE001 - a plugin's bug: report it, as for is_available
        log.debug("check_writable() of %s raised", backend.name, exc_info=True)
        ok, reason = False, f"its check_writable() raised {type(exc).__name__}: {exc}"
    if not ok:
        raise StorageUnavailableError(
            f"The token storage {backend.name!r} cannot save a token now: "
            f"{str(reason or 'no reason given').rstrip('.')}. Nothing was sent to the server; "
            f"fix that, or {_HOW_TO_CHOOSE}."
        )


def preferred_backend(
    config: AnacondaAuthSite | None = None, *, check_writable: bool = True
) -> StorageBackend:
    """The backend new tokens are written to, or a clear error saying why it cannot be used.

    With ``check_writable`` (the default: a login asks this before it starts) the backend's
    optional ``check_writable()`` must also say that a write would succeed now.
    """
    config = _config(config)
    backends = all_backends()
    name = config.preferred_token_storage
    backend = backends.get(name)
    if backend is None:
        raise _not_installed(name, backends)
    if backend.read_only:
        raise StorageUnavailableError(
            f"The token storage {name!r} is read-only ({backend.description}), so tokens cannot "
            f"be saved there; {_HOW_TO_CHOOSE}."
        )
    with using_config(config):  # the backend sees this configuration's keyring_path
        ok, reason = _available(backend)
        if not ok:
            raise _unavailable(name, reason)
        if check_writable:
            _check_writable(backend)
    return backend


_order_cache: tuple[object, int, str, list[StorageBackend]] | None = None


def read_order(
    config: AnacondaAuthSite | None = None, manager: AnacondaAuthPluginManager | None = None
) -> list[StorageBackend]:
    """The backends a read tries, in order (see the module docstring)."""
    global _order_cache
    preferred = _config(config).preferred_token_storage
    pm = manager if manager is not None else _manager()
    cached = _order_cache
    generation = pm.generation
    if (
        cached is not None
        and cached[0] is pm
        and cached[1] == generation
        and cached[2] == preferred
    ):
        return list(cached[3])
    backends = list(pm.get_storage_backends().values())
    read_only = sorted((b for b in backends if b.read_only), key=lambda b: -backend_priority(b))
    first = [b for b in backends if b.name == preferred and not b.read_only]
    rest = sorted(
        (b for b in backends if b.name != preferred and not b.read_only),
        key=lambda b: -backend_priority(b),
    )
    order = read_only + first + rest
    _order_cache = (pm, generation, preferred, order)
    return list(order)


# --- the read memo -----------------------------------------------------------------------------
#
# Clients read the token on every request. A backend may offer ``read_stamp(service, username)``:
# a cheap value that changes whenever what ``is_available()`` and ``get_password()`` would
# answer for that entry may change (``None``: cannot tell). When every backend a read consulted
# offered one, the result is remembered with the stamps, the configuration's values and the
# plugin manager; while all of them are unchanged the next read returns it without asking the
# backends. Errors are never remembered. See docs/dev/decisions/0011.

_READ_MEMO_MAX = 32


@dataclass(frozen=True)
class _ReadMemo:
    pm: object
    generation: int
    config_values: dict[str, object]
    stamps: tuple[tuple[StorageBackend, object], ...]
    result: tuple[str, StorageBackend] | None


_read_memos: freshness.Memo[tuple[str, str, bool], _ReadMemo] = freshness.Memo(_READ_MEMO_MAX)


def _read_stamp(backend: StorageBackend, service: str, username: str) -> object | None:
    stamp_fn = getattr(backend, "read_stamp", None)
    if stamp_fn is None:
        return None
    try:
        return stamp_fn(service, username)  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - no stamp: the read simply is not remembered
        log.debug("read_stamp() of %s raised", backend.name, exc_info=True)
        return None


def _memo_valid(
    memo: _ReadMemo, pm: object, generation: int, config: AnacondaAuthSite, key: tuple[str, str]
) -> bool:
    if memo.pm is not pm or memo.generation != generation:
        return False
    if config.__dict__ != memo.config_values:
        return False
    service, username = key
    for backend, stamp in memo.stamps:  # noqa: SIM110 - a plain loop: no generator per call
        if _read_stamp(backend, service, username) != stamp:
            return False
    return True


def remembered_read(
    service: str, username: str, config: AnacondaAuthSite, manager: AnacondaAuthPluginManager
) -> tuple[object, tuple[str, StorageBackend] | None] | None:
    """The remembered result of ``read(service, username, config)`` and a handle for
    :func:`still_remembered`, if that read was remembered and still holds."""
    memo = _read_memos.get((service, username, False))
    if memo is None or not still_remembered(memo, service, username, config, manager):
        return None
    return memo, memo.result


def still_remembered(
    handle: object,
    service: str,
    username: str,
    config: AnacondaAuthSite,
    manager: AnacondaAuthPluginManager,
) -> bool:
    """Whether a remembered read (from :func:`remembered_read`) still holds."""
    assert isinstance(handle, _ReadMemo)
    token = plugin_types._config_var.set(config)  # using_config(), minus the context manager
    try:
        return _memo_valid(handle, manager, manager.generation, config, (service, username))
    finally:
        plugin_types._config_var.reset(token)


def read(
    service: str,
    username: str,
    config: AnacondaAuthSite | None = None,
    *,
    writable_only: bool = False,
    manager: AnacondaAuthPluginManager | None = None,
) -> tuple[str, StorageBackend] | None:
    """The first stored value and the backend it came from, or ``None``.

    ``writable_only`` skips the read-only backends (what is *stored*, under an environment
    API key). Raises :class:`StorageUnavailableError` when nothing is found and the preferred
    backend could not be searched, and :class:`StorageError` when nothing is found and a
    backend failed (a corrupt file, say): "not logged in" would hide the problem.
    ``manager`` is the current plugin manager, when the caller has just looked it up.
    """
    config = _config(config)
    pm = manager if manager is not None else _manager()
    generation = pm.generation
    memo_key = (service, username, writable_only)
    with using_config(config):
        memo = _read_memos.get(memo_key)
        if memo is not None and _memo_valid(memo, pm, generation, config, (service, username)):
            return memo.result
        stamps: list[tuple[StorageBackend, object]] = []
        result = _read(service, username, config, writable_only, stamps, pm)
        if all(stamp is not None for _, stamp in stamps):
            _read_memos.put(
                memo_key, _ReadMemo(pm, generation, dict(config.__dict__), tuple(stamps), result)
            )
        return result


def _read(
    service: str,
    username: str,
    config: AnacondaAuthSite,
    writable_only: bool,
    stamps: list[tuple[StorageBackend, object]],
    pm: AnacondaAuthPluginManager,
) -> tuple[str, StorageBackend] | None:
    """:func:`read` itself; appends the stamp of each backend consulted (taken before it is)."""
    preferred = config.preferred_token_storage
    problem: StorageError | None = None
    preferred_seen = False
    for backend in read_order(config, pm):
        if writable_only and backend.read_only:
            continue
        is_preferred = backend.name == preferred
        preferred_seen = preferred_seen or is_preferred
        stamps.append((backend, _read_stamp(backend, service, username)))
        ok, reason = _available(backend)
        if not ok:
            stamps.append((backend, None))  # only clean reads are remembered
            if is_preferred:
                problem = _unavailable(backend.name, reason)
            else:
                log.debug("token storage %s skipped: %s", backend.name, reason)
            continue
        try:
            value = _call(backend, "read a token", backend.get_password, service, username)
        except StorageUnavailableError as exc:
            stamps.append((backend, None))
            if is_preferred:
                problem = exc
            log.debug("token storage %s skipped: %s", backend.name, exc)
            continue
        except StorageError as exc:
            stamps.append((backend, None))
            if is_preferred:
                raise
            log.info("token storage %s could not be read: %s", backend.name, exc)
            problem = problem or exc
            continue
        if value is not None:
            return value, backend
    if problem is not None:
        raise problem
    if not preferred_seen:
        backends = pm.get_storage_backends()
        if preferred not in backends:
            raise _not_installed(preferred, backends)
    return None


def read_preferred(
    service: str, username: str, config: AnacondaAuthSite | None = None
) -> str | None:
    """The value in the preferred backend alone; an error if that backend cannot be used."""
    config = _config(config)
    with using_config(config):
        backend = preferred_backend(config, check_writable=False)
        return _call(backend, "read a token", backend.get_password, service, username)


def write(
    service: str, username: str, value: str, config: AnacondaAuthSite | None = None
) -> StorageBackend:
    """Store ``value`` in the preferred backend; the backend it went to."""
    config = _config(config)
    try:
        with using_config(config):
            backend = preferred_backend(config, check_writable=False)
            _call(
                backend,
                "save the token",
                backend.set_password,
                service,
                username,
                value,
                secret=value,
            )
    finally:
        freshness.note_local_change()
    return backend


def delete(service: str, username: str, config: AnacondaAuthSite | None = None) -> list[str]:
    """Remove the entry from every writable backend holding it; the names of those backends.

    Raises :class:`StorageUnavailableError` if the preferred backend cannot be searched (a
    logout must not report success while the token is still stored there).
    """
    config = _config(config)
    preferred = config.preferred_token_storage
    removed: list[str] = []
    with using_config(config):
        for backend in read_order(config):
            if backend.read_only:
                continue
            ok, reason = _available(backend)
            if not ok:
                if backend.name == preferred:
                    raise _unavailable(backend.name, reason)
                log.debug("token storage %s skipped: %s", backend.name, reason)
                continue
            if _call(backend, "read a token", backend.get_password, service, username) is None:
                continue
            _call(backend, "delete the token", backend.delete_password, service, username)
            removed.append(backend.name)
            freshness.note_local_change()
    return removed


@dataclass(frozen=True)
class BackendStatus:
    """One backend as ``anaconda auth plugins`` / ``whoami`` show it."""

    name: str
    description: str
    priority: float
    read_only: bool
    preferred: bool
    available: bool
    reason: str


def storage_status(config: AnacondaAuthSite | None = None) -> list[BackendStatus]:
    """Every backend in read order, with whether it is usable here and why not.

    This asks every backend's ``is_available()``, including the OS keyring's: not for hot paths.
    """
    config = _config(config)
    statuses = []
    with using_config(config):
        for b in read_order(config):
            ok, reason = _available(b)
            statuses.append(
                BackendStatus(
                    b.name,
                    b.description,
                    backend_priority(b),
                    b.read_only,
                    b.name == config.preferred_token_storage,
                    ok,
                    reason,
                )
            )
    return statuses
