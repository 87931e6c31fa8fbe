"""The objects plugins hand to anaconda-auth through the hooks in :mod:`anaconda_auth.hookspecs`.

Registration objects are small and frozen, so a hook returns data, not behaviour hidden in
subclasses. A storage backend is described by a :class:`typing.Protocol`: any object with these
attributes works, without subclassing anything from this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
    people (``anaconda auth plugins``). ``priority`` orders the read fallback after the preferred
    backend, higher first (built-ins: environment 100, anaconda-keyring 50, system 10).
    ``read_only`` backends are never written to or deleted from; they are read before every
    other backend, so a value they hold wins.

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
    def priority(self) -> float: ...

    @property
    def read_only(self) -> bool: ...

    def is_available(self) -> tuple[bool, str]: ...

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


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
