"""Memoised configuration: ``AnacondaAuthConfig()`` with nothing changed costs microseconds.

Resolving the configuration asks every config source and validates the merged values with
pydantic (100-200 µs). Token reads, and so every request of a ``BaseClient``, resolve it again
so that a changed environment or file is seen at once. This module keeps the last validated
result for each set of explicit arguments together with a *fingerprint* of everything the
built-in sources and the validators read, and hands out a copy while the fingerprint holds:

* the whole process environment (``os.environ``): the ``ANACONDA_*`` variables, but also
  ``HOME`` (``~`` in paths) and any variable a ``$VAR`` in a path may name;
* the secrets directory set in code (``AnacondaAuthConfig.model_config["secrets_dir"]``);
* the ``stat`` stamps (device, inode, mtime, ctime, size) of ``config.toml``, of ``.env`` in
  the working directory (stat'ed by its relative name, so a change of directory is a change of
  file), of the secrets directory and of each ``ANACONDA_AUTH_*`` and (deprecated)
  ``ANACONDA_CLOUD_*`` file in it, names in any case; a missing file is a stamp too (the
  ``${VAR}`` references of ``.env`` name environment variables, covered above);
* the plugin manager and its generation (plugins registered or removed);
* that the CA bundle ``ssl_verify`` names still exists (the validator checks it).

The configuration does not otherwise depend on the working directory: relative paths stay
relative in the model.

Nothing is memoised when a config source whose inputs are not covered here is installed (a
third party's, or a built-in missing from :data:`KNOWN_SOURCES`), when one of the files changed
in the last two seconds (a rewrite within the file system's timestamp granularity could keep
the same stamp: the "racy git" rule), when an explicit argument cannot be compared by value, or
when a value came from a source that warns when it is used. Errors are never memoised. Each
caller gets its own copy, containers included: the config model is mutable.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from anaconda_auth import freshness

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic import BaseModel

    from anaconda_auth.config.loader import Origin
    from anaconda_auth.manager import AnacondaAuthPluginManager

_MAX_ENTRIES = 32
#: The names of the files the secrets-dir and legacy-env sources read (any case).
_SECRETS_PREFIXES = ("ANACONDA_AUTH_", "ANACONDA_CLOUD_")

_Stamp = tuple[int, int, int, int, int] | None

#: The built-in config sources whose inputs the fingerprint covers. A source missing here (a
#: third party's, or a new built-in) turns memoisation off: add it only with its inputs covered.
KNOWN_SOURCES = frozenset(
    {
        "environment",  # os.environ
        "secrets-dir",  # the directory and its ANACONDA_AUTH_* files
        "dotenv",  # .env in the working directory
        "site",  # config.toml, ANACONDA_DEFAULT_SITE
        "config-toml",  # config.toml
        "legacy-env",  # os.environ, the ANACONDA_CLOUD_* secret files, .env
        "legacy-toml",  # config.toml
        "conda",  # read once per process by the source itself
    }
)
#: Sources that warn (DeprecationWarning) whenever one of their values is used: a result that
#: uses one is not memoised, so the warning is raised every time, as without the memo.
WARNING_SOURCES = frozenset({"legacy-env", "legacy-toml"})


class _Uncacheable(Exception):
    """The inputs cannot be fingerprinted reliably right now."""


@dataclass(frozen=True)
class _Fingerprint:
    pm: AnacondaAuthPluginManager
    generation: int
    env: dict[Any, Any] = field(repr=False)  # the whole environment: may hold API keys
    #: config.toml and the secrets directory, as computed from ``env`` and ``secrets_setting``
    paths: tuple[str | None, str]
    stamps: tuple[Any, ...]
    #: the secrets directory set in code (``AnacondaAuthConfig.model_config["secrets_dir"]``)
    secrets_setting: str | None = None


@dataclass(frozen=True)
class _Entry:
    fingerprint: _Fingerprint
    template: BaseModel
    ssl_path: str | None


_entries: freshness.Memo[tuple[Any, ...], _Entry] = freshness.Memo(_MAX_ENTRIES)
_builtin_only: freshness.Memo[tuple[int, int], bool] = freshness.Memo(8)
_secrets_listing: freshness.Memo[str, tuple[_Stamp, tuple[str, ...]]] = freshness.Memo(8)
_lock = threading.Lock()


def clear() -> None:
    """Forget every memoised configuration (tests; never needed for correctness)."""
    freshness.note_local_change()
    with _lock:
        _entries.clear()
        _builtin_only.clear()
        _secrets_listing.clear()


def _stamp(path: str, now: int, *, usually_missing: bool = False) -> _Stamp:
    try:
        return freshness.stat_stamp(path, now=now, usually_missing=usually_missing)
    except (freshness.Racy, OSError) as exc:  # unreadable: let the source report it, uncached
        raise _Uncacheable from exc


def _paths() -> tuple[str | None, str]:
    return freshness.config_toml_path(), freshness.secrets_dir()


def _secrets_stamps(directory: str, now: int, usually_missing: bool = True) -> tuple[Any, ...]:
    dir_stamp = _stamp(directory, now, usually_missing=usually_missing)
    if dir_stamp is None:
        return (None,)
    listed = _secrets_listing.get(directory)
    if listed is None or listed[0] != dir_stamp:
        try:
            names = tuple(
                sorted(
                    entry.name
                    for entry in os.scandir(directory)
                    if entry.name.upper().startswith(_SECRETS_PREFIXES)
                )
            )
        except OSError as exc:
            raise _Uncacheable from exc
        _secrets_listing.put(directory, (dir_stamp, names))
    else:
        names = listed[1]
    # each file is stamped through symlinks (Kubernetes swaps a ..data link on update)
    return (dir_stamp, tuple(_stamp(os.path.join(directory, n), now) for n in names))


def _toml_stamp(path: str | None, now: int) -> _Stamp:
    """The stamp of config.toml; ``None`` (no file) without a home directory."""
    return None if path is None else _stamp(path, now)


def _stamps(paths: tuple[str | None, str]) -> tuple[Any, ...]:
    """The stamps of the files at ``paths`` (:func:`_stamps_hold` checks them again)."""
    now = time.time_ns()
    toml, secrets = paths
    return (
        _toml_stamp(toml, now),
        _stamp(freshness.DOTENV, now, usually_missing=True),
        _secrets_stamps(secrets, now),
    )


def _builtin_sources_only(pm: AnacondaAuthPluginManager) -> bool:
    key = (id(pm), pm.generation)
    known = _builtin_only.get(key)
    if known is None:
        known = all(
            source.name in KNOWN_SOURCES and source.load.__module__.startswith("anaconda_auth.")
            for source in pm.get_config_sources()
        )
        _builtin_only.put(key, known)
    return known


def _fingerprint() -> _Fingerprint | None:
    from anaconda_auth.manager import get_plugin_manager  # pluggy: only once resolving

    pm = get_plugin_manager()
    if not _builtin_sources_only(pm):
        return None
    env = freshness.env_snapshot()
    setting = freshness.secrets_dir_setting()
    try:
        paths = _paths()
        stamps = _stamps(paths)
    except (_Uncacheable, OSError):
        return None
    return _Fingerprint(pm, pm.generation, env, paths, stamps, setting)


def _still_valid(fp: _Fingerprint) -> bool:
    # The plugin manager depends only on the environment and config.toml, both checked here:
    # while they are unchanged the current manager is the one get_plugin_manager() returns
    # (a manager built from a config.toml changed since is impossible: a change in the last
    # two seconds makes the fingerprint uncacheable).
    current = sys.modules["anaconda_auth.manager"]._current  # loaded: fp holds a manager
    if current is None or current[1] is not fp.pm or fp.pm.generation != fp.generation:
        return False
    if not freshness.env_unchanged(fp.env):
        return False
    if freshness.secrets_dir_setting() != fp.secrets_setting:
        return False
    return _stamps_hold(fp.paths, fp.stamps)


def _stamps_hold(paths: tuple[str | None, str], stamps: tuple[Any, ...]) -> bool:
    """Whether the files at ``paths`` still have ``stamps`` (what ``_stamps`` would give
    again, checked with fewer calls: this runs for every request of a ``BaseClient``)."""
    toml, secrets = paths
    if toml is not None and not freshness.unchanged(toml, stamps[0]):
        return False
    if not freshness.unchanged(freshness.DOTENV, stamps[1]):
        return False
    if stamps[2] == (None,):
        return freshness.unchanged(secrets, None)
    try:
        return bool(_secrets_stamps(secrets, time.time_ns(), usually_missing=False) == stamps[2])
    except (_Uncacheable, OSError):
        return False


def _freeze(value: Any) -> Any:
    """A hashable stand-in that compares equal only for equal values of the same types."""
    if value is None or isinstance(value, (str, bool, int, float, PurePath)):
        return (type(value), value)
    if isinstance(value, dict):
        return (dict, tuple((_freeze(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_freeze(v) for v in value))
    raise TypeError


def key_for(cls: type, explicit: dict[str, Any]) -> tuple[Any, ...] | None:
    """The memo key for ``cls(**explicit)``, or ``None`` if the arguments cannot be compared."""
    if not explicit:
        return (cls,)
    try:
        return (cls, tuple((k, _freeze(v)) for k, v in sorted(explicit.items())))
    except TypeError:
        return None


def _copy_into(target: BaseModel, source: BaseModel) -> None:
    """Make ``target`` an independent copy of ``source`` (as ``model_copy`` would, in place)."""
    values = {k: v.copy() if type(v) in (dict, list) else v for k, v in source.__dict__.items()}
    extra = source.__pydantic_extra__
    private = source.__pydantic_private__
    object.__setattr__(target, "__dict__", values)
    object.__setattr__(target, "__pydantic_fields_set__", set(source.__pydantic_fields_set__))
    object.__setattr__(target, "__pydantic_extra__", dict(extra) if extra is not None else None)
    object.__setattr__(
        target, "__pydantic_private__", dict(private) if private is not None else None
    )


def _valid_entry(key: tuple[Any, ...]) -> _Entry | None:
    entry = _entries.get(key)
    if entry is None or not _still_valid(entry.fingerprint):
        return None
    if entry.ssl_path is not None and not os.path.exists(entry.ssl_path):
        return None
    return entry


def fill(target: BaseModel, key: tuple[Any, ...]) -> bool:
    """Copy the memoised configuration for ``key`` into ``target`` if nothing changed."""
    entry = _valid_entry(key)
    if entry is None:
        return False
    _copy_into(target, entry.template)
    return True


def current(cls: type[BaseModel]) -> tuple[BaseModel, _Entry] | None:
    """A copy of the memoised ``cls()`` and its memo entry, if nothing changed (token reads
    use the entry's plugin manager, ``entry.fingerprint.pm``, without asking for it again, and
    :func:`still_current` to know whether what they derived from it still holds)."""
    entry = _valid_entry((cls,))
    if entry is None:
        return None
    target = cls.__new__(cls)
    _copy_into(target, entry.template)
    return target, entry


def still_current(cls: type[BaseModel], entry: _Entry) -> bool:
    """Whether ``cls()`` would still be a copy of ``entry``'s configuration."""
    if _entries.get((cls,)) is not entry or not _still_valid(entry.fingerprint):
        return False
    return entry.ssl_path is None or os.path.exists(entry.ssl_path)


def begin() -> _Fingerprint | None:
    """Take the fingerprint *before* resolving, so a change during resolution is not hidden."""
    try:
        return _fingerprint()
    except Exception:  # noqa: BLE001 - the normal resolution reports any problem
        return None


def store(
    key: tuple[Any, ...], fingerprint: _Fingerprint, model: BaseModel, origins: Iterable[Origin]
) -> None:
    """Remember a freshly validated configuration under the fingerprint taken before it.

    ``origins`` are where its values came from: a value from a source that warns when used
    keeps the result out of the memo.
    """
    if any(origin.source in WARNING_SOURCES for origin in origins):
        return
    template = type(model).__new__(type(model))
    _copy_into(template, model)
    ssl_verify = getattr(model, "ssl_verify", None)
    ssl_path = ssl_verify if isinstance(ssl_verify, str) and ssl_verify != "truststore" else None
    with _lock:
        _entries.put(key, _Entry(fingerprint, template, ssl_path))
