"""The objects plugins hand to anaconda-auth through the hooks in :mod:`anaconda_auth.hookspecs`.

Registration objects are small and frozen, so a hook returns data, not behaviour hidden in
subclasses. A storage backend is described by a :class:`typing.Protocol`: any object with these
attributes works, without subclassing anything from this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite

#: Returned by an error handler that has just logged the user in (interactively), to ask the
#: CLI to run the command once more. The handler does the login itself; the CLI only re-runs.
RETRY_AFTER_LOGIN = -1


@runtime_checkable
class StorageBackend(Protocol):
    """A place to keep tokens, shaped like a ``keyring`` backend.

    Any object with these members is a storage backend; nothing needs to be subclassed, and
    plain class attributes satisfy the four data members.

    ``name`` is stable and unique ("system", "anaconda-keyring", "environment" for the
    built-ins); it is what ``preferred_token_storage`` selects. ``description`` is one line for
    people (``anaconda auth plugins``). ``read_only`` backends are never written to or deleted
    from; they are read before every other backend, so a value they hold wins.

    Optional: ``priority`` (a number, default :data:`DEFAULT_PRIORITY`) orders the read fallback
    after the preferred backend, higher first (built-ins: environment 100, anaconda-keyring 50,
    system 10); read it with :func:`backend_priority`. ``read_stamp`` makes reads cheaper: see
    :class:`StampedStorageBackend`. ``check_writable`` lets a login refuse to start when the
    token could not be saved: see :class:`WriteCheckedStorageBackend`.

    ``is_available()`` returns ``(True, "")`` or ``(False, reason)`` where the reason tells a
    user what to do. It must not prompt, must return quickly, and may cache its answer for the
    process: it is only called when the backend is reached in the read order or selected for
    writing.

    ``get_password`` returns ``None`` when there is no entry. ``delete_password`` is only called
    for entries that exist. Errors should be raised as
    :class:`anaconda_auth.exceptions.StorageError` with a message naming the store and the
    remedy (anything else is wrapped in one); never put the stored value in a message.
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    def is_available(self) -> tuple[bool, str]: ...

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


#: The format of a stored login, shared with anaconda-auth 0.15: the service name of every
#: entry (the username is the domain), and the version inside its value (the base64 of the
#: ``TokenInfo`` JSON). A backend that synthesises entries (``environment``) needs both.
KEYRING_NAME = "Anaconda Cloud"
TOKEN_INFO_VERSION = 2

#: The ``priority`` of a storage backend that does not set one.
DEFAULT_PRIORITY = 0.0


def backend_priority(backend: StorageBackend) -> float:
    """The backend's ``priority``, or :data:`DEFAULT_PRIORITY` when it has none (or a bad one)."""
    value = getattr(backend, "priority", DEFAULT_PRIORITY)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_PRIORITY
    return float(value)


@runtime_checkable
class StampedStorageBackend(StorageBackend, Protocol):
    """A storage backend that can tell cheaply whether an entry may have changed.

    ``read_stamp(service, username)`` returns a value that changes whenever what
    ``is_available()`` and ``get_password()`` would answer for that entry may change (for a
    file: its ``stat`` stamp), or ``None`` when it cannot tell. While every backend a read
    consulted returns the same stamps, anaconda-auth reuses the result of that read instead of
    asking the backends again: a client reads the token on every request. Without the method a
    backend works the same, only each read asks it again. It must be much cheaper than
    ``get_password`` and must never raise for a missing entry.
    """

    def read_stamp(self, service: str, username: str) -> object | None: ...


@runtime_checkable
class WriteCheckedStorageBackend(StorageBackend, Protocol):
    """A storage backend that can tell, before a login starts, whether a write would succeed.

    ``check_writable()`` returns ``(True, "")`` or ``(False, reason)``, like ``is_available()``,
    but answers the stronger question "would ``set_password`` succeed now?" (for a file: its
    directory accepts new files, its lock can be taken). anaconda-auth asks it before the
    browser or device login starts, so an API key is never minted on the server and then lost
    because it cannot be stored. It must not prompt, must return within seconds, and must
    leave nothing behind (no entry, no file). Without the method a backend works the same; a
    login then finds a storage problem only when it saves the new key.
    """

    def check_writable(self) -> tuple[bool, str]: ...


# --- the configuration of the storage operation in progress ------------------------------------

_config_var: ContextVar[AnacondaAuthSite | None] = ContextVar(
    "anaconda_auth_storage_config", default=None
)
_default_config: Callable[[], AnacondaAuthSite] | None = None


def set_default_config_factory(factory: Callable[[], AnacondaAuthSite]) -> None:
    """Called once by :mod:`anaconda_auth.config`: how :func:`current_config` resolves the
    configuration outside a storage operation. (The contract does not import the core.)"""
    global _default_config
    _default_config = factory


def current_config() -> AnacondaAuthSite:
    """The configuration of the token operation in progress (or the freshly resolved default).

    Storage backends call this instead of building ``AnacondaAuthConfig()`` themselves: a read
    resolves the configuration once and every backend it reaches shares it. (Not propagated
    into threads a backend starts.)
    """
    config = _config_var.get()
    if config is not None:
        return config
    if _default_config is None:
        raise LookupError(
            "No anaconda-auth configuration is active: import anaconda_auth.config (it registers "
            "the default), or run the backend inside using_config(config)."
        )
    return _default_config()


@contextmanager
def using_config(config: AnacondaAuthSite) -> Iterator[AnacondaAuthSite]:
    """Make ``config`` what :func:`current_config` returns inside the block."""
    token = _config_var.set(config)
    try:
        yield config
    finally:
        _config_var.reset(token)


ConfigValues = Mapping[str, Any]


@dataclass(frozen=True)
class ConfigSource:
    """One source of configuration values.

    ``rank`` orders sources: higher wins. The built-in ranks are listed in
    :data:`anaconda_auth.config.SOURCE_RANKS`; a third party picks a rank between them.

    ``load(resolved)`` returns raw (unvalidated) field values. ``resolved`` holds what the
    higher-ranked sources already set, so a source can depend on them (the sites source reads
    the selected ``site``). It is called every time a configuration is built, so it must be
    cheap and must not cache values that can change (environment, files).

    ``where(key)`` names the place a key came from, for error messages and
    ``anaconda auth config``: e.g. ``"ANACONDA_AUTH_DOMAIN"`` or
    ``"~/.anaconda/config.toml [plugin.auth] domain"``.
    """

    name: str
    rank: int
    load: Callable[[ConfigValues], ConfigValues]
    description: str = ""
    where: Callable[[str], str] | None = field(default=None, compare=False)

    def location(self, key: str) -> str:
        return self.where(key) if self.where is not None else f"{self.name}: {key}"


@dataclass(frozen=True)
class ErrorHandler:
    """Renders one exception type for the CLI.

    ``handle(exc)`` prints a message and returns the exit code, or
    :data:`RETRY_AFTER_LOGIN` after it has logged the user in, to have the command run once
    more (anaconda-cli-base's convention; a second failure is not retried again).
    The handler for an exception is found along its MRO, so a handler for a base class covers
    its subclasses unless a more specific one exists.
    """

    name: str
    exception: type[BaseException]
    handle: Callable[[BaseException], int]
