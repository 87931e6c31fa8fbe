"""Knowing cheaply whether what a remembered result was computed from has changed.

Everything the package remembers between calls (parsed files, the resolved configuration, the
plugin manager, token reads) is checked against this module's two kinds of evidence:

* **file stamps** — ``(device, inode, mtime, ctime, size)`` of a path from one ``stat``; a
  missing file is ``None``. A file modified in the last :data:`RACY_NS` is *racy*: a rewrite
  within the file system's timestamp granularity could keep the same stamp, so its stamp is not
  trusted (:class:`Racy`) and the caller recomputes (the "racy git" rule);
* **the environment** — a snapshot of ``os.environ``, compared as a whole (``HOME`` and any
  ``$VAR`` in a path count as much as the ``ANACONDA_*`` variables).

It also holds the one rule for where the configuration files are, so that the config
loader, its memo and the plugin manager can never disagree about it. :class:`Memo` is the small
bounded dictionary the caches use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

#: A file changed more recently than this (in ns) does not get a trusted stamp.
RACY_NS = 2_000_000_000

CONFIG_TOML_ENV = "ANACONDA_CONFIG_TOML"
SECRETS_DIR_ENV = "ANACONDA_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"
#: ``.env`` is looked up in the working directory, by this relative name.
DOTENV = ".env"

Stamp = tuple[int, int, int, int, int]


class Racy(Exception):
    """The file changed too recently for its stamp to be trusted."""


def is_racy(mtime_ns: int, now: int | None = None) -> bool:
    """Whether a file modified at ``mtime_ns`` is too fresh to trust its stamp."""
    return (time.time_ns() if now is None else now) - mtime_ns < RACY_NS


def stat_stamp(path: str, *, now: int | None = None, usually_missing: bool = False) -> Stamp | None:
    """The stamp of ``path`` (following symlinks), ``None`` if it does not exist.

    Raises :class:`Racy` for a file changed in the last :data:`RACY_NS`, and ``OSError`` when
    it cannot be examined (permissions). ``usually_missing`` looks first with ``os.access``,
    which answers "no such file" more cheaply than a failed ``stat``.
    """
    if usually_missing and not os.access(path, os.F_OK, follow_symlinks=False):
        return None
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if is_racy(st.st_mtime_ns, now):
        raise Racy(path)
    return _stamp_of(st)


def _stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def unchanged(path: str, stamp: Stamp | None) -> bool:
    """Whether ``path`` still has ``stamp``, a trusted stamp from :func:`stat_stamp` (``None``:
    the file was missing). The per-request check: cheaper than taking a new stamp, with the
    same answer. A file that still matches a trusted stamp needs no racy check (any write
    since gave it a newer mtime and ctime); a missing file is looked for with ``os.access``."""
    if stamp is None:
        if not os.access(path, os.F_OK, follow_symlinks=False):
            return True
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):  # a dangling symlink: still no file
            return True
        except OSError:
            return False
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return _stamp_of(st) == stamp


# --- this process's own changes ----------------------------------------------------------------

#: Bumped by every change this process makes to what a token lookup depends on (token writes and
#: deletes, config files written, plugins registered or removed, caches cleared): a client that
#: reuses a recent lookup without looking at the files (``client_auth.RECHECK_NS``) still sees
#: these at once.
local_changes = 0


def note_local_change() -> None:
    """Record that this process changed a token, a config file or the plugins."""
    global local_changes
    local_changes += 1


# --- the environment ---------------------------------------------------------------------------

#: ``os.environ``'s own mapping (a CPython detail): a copy shares its value objects, so an
#: unchanged environment compares equal in well under a microsecond. Without it, the public
#: mapping is used.
_ENV_DATA: Any = getattr(os.environ, "_data", None)


def env_snapshot() -> dict[Any, Any]:
    """A copy of the whole environment, for :func:`env_unchanged`. It may hold secrets: never
    put one in a ``repr``."""
    return dict(_ENV_DATA) if _ENV_DATA is not None else dict(os.environ)


def env_unchanged(snapshot: dict[Any, Any]) -> bool:
    """Whether the environment is exactly as when ``snapshot`` was taken."""
    return bool(snapshot == (_ENV_DATA if _ENV_DATA is not None else os.environ))


# --- where the configuration lives -------------------------------------------------------------


class Unexpandable(ValueError):
    """A ``~`` or ``~user`` at the start of a configured path that cannot be expanded; the
    message says why (no such user, or no home directory) without naming the setting."""


def home_dir() -> str | None:
    """The home directory (``$HOME``, else the user's entry in the password database), or
    ``None`` on a machine that has neither (a container run with an arbitrary user id)."""
    home = os.path.expanduser("~")
    return None if home == "~" else home


def _why_not(text: str) -> str:
    prefix = text.split("/", 1)[0].split(os.sep, 1)[0]
    if prefix == "~":
        return (
            "~ cannot be expanded: HOME is not set and this user has no entry in the password "
            "database. Set HOME, or use an absolute path"
        )
    user = prefix[1:]
    return f"{prefix} cannot be expanded: there is no user named {user!r}. Use an absolute path"


def expand(value: str) -> str:
    """``$VARS`` then ``~`` expanded, as every configured path is. A leading ``~`` or
    ``~user`` that cannot be expanded raises :class:`Unexpandable` (never a path that still
    starts with ``~``, which would be taken relative to the working directory)."""
    text = os.path.expandvars(value)
    expanded = os.path.expanduser(text)
    if expanded == text and text.startswith("~"):
        raise Unexpandable(_why_not(text))
    return expanded


def expand_setting(value: str, variable: str) -> str:
    """:func:`expand` for the value of ``variable``; ``ConfigError`` naming it if it fails."""
    try:
        return expand(value)
    except Unexpandable as exc:
        from anaconda_auth.exceptions import ConfigError

        raise ConfigError(f"Invalid {variable}={value!r}: {exc}.") from None


def expand_path(path: str | os.PathLike[str], setting: str) -> Path:
    """A configured path with a leading ``~`` or ``~user`` expanded (``$VARS`` are not: the
    configuration expanded them when it read the value); a ``Path`` without one is returned
    as it is. ``ConfigError`` naming ``setting`` when it cannot be expanded, never a path that
    still starts with ``~``."""
    text = os.fspath(path)
    if not text.startswith("~"):
        return path if isinstance(path, Path) else Path(text)
    expanded = os.path.expanduser(text)
    if expanded == text:
        from anaconda_auth.exceptions import ConfigError

        raise ConfigError(f"Cannot use {setting} {text}: {_why_not(text)} for {setting}.")
    return Path(expanded)


def config_toml_path() -> str | None:
    """``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml`` (as anaconda-cli-base uses);
    ``None`` when the variable is unset and there is no home directory (so no file).
    ``ConfigError`` naming the variable when its ``~`` cannot be expanded."""
    override = os.environ.get(CONFIG_TOML_ENV)
    if override:
        return expand_setting(override, CONFIG_TOML_ENV)
    home = home_dir()
    if home is None:
        return None
    return os.path.join(home, ".anaconda", "config.toml")


#: Gives the secrets directory set in code, if any: the config model installs one that reads
#: ``AnacondaAuthConfig.model_config["secrets_dir"]`` (pydantic-settings' setting, which code
#: and tests written for anaconda-auth 0.15 set). ``None`` until the model is imported.
_secrets_dir_setting: Callable[[], Any] | None = None


def set_secrets_dir_setting(getter: Callable[[], Any] | None) -> None:
    """Install the function that gives the secrets directory set in code (or ``None``)."""
    global _secrets_dir_setting
    _secrets_dir_setting = getter


def secrets_dir_setting() -> str | None:
    """The secrets directory set in code (a path text, not expanded), or ``None``."""
    getter = _secrets_dir_setting
    value = getter() if getter is not None else None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value) or None
    return None


def secrets_dir() -> str:
    """The secrets directory set in code (:func:`secrets_dir_setting`), else
    ``$ANACONDA_SECRETS_DIR``, else ``/run/secrets`` (it may not exist)."""
    setting = secrets_dir_setting()
    if setting is not None:
        return expand_setting(setting, 'AnacondaAuthConfig.model_config["secrets_dir"]')
    return expand_setting(os.environ.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR, SECRETS_DIR_ENV)


# --- a bounded memo ----------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A dictionary that forgets everything when it reaches ``size`` entries.

    The caches here hold a handful of live entries (one per configuration, domain or file), so
    a full reset is simpler than an eviction order and keeps memory bounded.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        if len(self._data) >= self.size and key not in self._data:
            self._data.clear()
        self._data[key] = value

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def values(self) -> list[V]:
        return list(self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:  # keys and values may be secrets
        return f"<{type(self).__name__} {len(self._data)}/{self.size} entries>"
