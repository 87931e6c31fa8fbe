"""Entry points of a few groups without reading every distribution's metadata each start.

``importlib.metadata.entry_points(group=...)`` opens ``entry_points.txt`` of every distribution
on ``sys.path``: about 45 µs each, so 25-30 ms in a conda base environment with hundreds of
distributions, paid by every process that builds the plugin manager (and once more by pydantic,
which scans its own group). :func:`entry_points_for` gives the same entry points, in the same
order, from a per-user cache validated by ``stat`` stamps:

* each ``sys.path`` entry is cached on its own, under its absolute path, with the stamp
  (device, inode, mtime, ctime, size) of the directory (or zip file). Installing or removing a
  distribution adds or removes a ``*.dist-info``/``*.egg-info`` directory there, which changes
  that stamp, so the entry is scanned again (only that entry: a changed working directory does
  not rescan site-packages);
* an ``.egg-info`` can be rewritten in place (``setup.py egg_info``/``develop``), and so can a
  plugin's own ``entry_points.txt``: those directories and files are stamped too;
* a stamp that changed in the last two seconds is not trusted (a change within the file
  system's timestamp granularity could keep it): that entry is scanned and not cached;
* the scan of an entry is ``importlib.metadata.distributions(path=[entry])`` and the result is
  merged exactly as ``entry_points()`` does (the first distribution of a normalised name wins);
* when a finder on ``sys.meta_path`` other than the standard one can report distributions,
  nothing is cached: :func:`entry_points_for` is ``entry_points(group=...)``.

The cache is ``$XDG_CACHE_HOME/anaconda-auth/entry-points.json`` (``~/.cache/...`` by default),
replaced atomically; a missing, unreadable or malformed cache is ignored, and a cache that
cannot be written is not an error. What it does not see: a hand edit that adds a group to an
existing ``*.dist-info/entry_points.txt`` in place (installers write new directories).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.metadata
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from anaconda_auth import freshness

#: Groups collected whenever an entry is scanned: ours, pydantic's (it scans when the first
#: model class is created) and keyring's (it scans when the system backend is first asked).
DEFAULT_GROUPS = ("anaconda_auth", "pydantic", "keyring.backends")
_FORMAT = 1
#: Cached ``sys.path`` entries kept in the file (those of the running process first).
_MAX_ENTRIES = 64

_Stamp = tuple[int, int, int, int, int] | None
_lock = threading.Lock()
#: The ``sys.path`` entries this process scanned (not found current in the cache), for tests.
scanned: list[str] = []


@dataclass(frozen=True)
class DistributionInfo:
    """The distribution an entry point comes from (what ``EntryPoint.dist`` is used for)."""

    name: str
    version: str


@dataclass(frozen=True)
class PluginEntryPoint:
    """An entry point as ``importlib.metadata.EntryPoint`` has it: name, value, group, dist."""

    name: str
    value: str
    group: str
    dist: DistributionInfo | None

    def load(self) -> Any:
        """Import the object the entry point names (``importlib.metadata``'s own ``load``)."""
        return importlib.metadata.EntryPoint(self.name, self.value, self.group).load()


# ---------------------------------------------------------------- stamps


def _stamp(path: str) -> _Stamp:
    """The :mod:`anaconda_auth.freshness` stamp of ``path``, racy or not (checked apart)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def _racy(stamp: _Stamp, now: int) -> bool:
    return stamp is not None and freshness.is_racy(stamp[2], now)


# ---------------------------------------------------------------- scanning one sys.path entry


@dataclass
class _Entry:
    """What one ``sys.path`` entry holds: enough to merge it with the others."""

    stamp: _Stamp
    #: Further files and directories whose change means a rescan, with their stamps.
    extra: dict[str, _Stamp]
    groups: tuple[str, ...]
    #: Normalised names of every distribution found here, in order ("\n"-joined).
    names: str
    #: Distributions with entry points in ``groups``: (index in ``names``, name, version,
    #: [(group, name, value), ...]).
    dists: list[tuple[int, str, str, list[tuple[str, str, str]]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "stamp": self.stamp,
            "extra": self.extra,
            "groups": list(self.groups),
            "names": self.names,
            "dists": self.dists,
        }

    @classmethod
    def from_json(cls, data: Any) -> _Entry:
        """The entry, or ``ValueError``/``TypeError``/``KeyError`` when it is malformed."""
        stamp = _stamp_from_json(data["stamp"])
        extra = {str(k): _stamp_from_json(v) for k, v in dict(data["extra"]).items()}
        groups = tuple(str(g) for g in data["groups"])
        names = data["names"]
        if not isinstance(names, str):
            raise TypeError("names")
        dists = []
        for index, name, version, eps in data["dists"]:
            if not isinstance(index, int):
                raise TypeError("index")
            triples = [(str(g), str(n), str(v)) for g, n, v in eps]
            dists.append((index, str(name), str(version), triples))
        return cls(stamp, extra, groups, names, dists)


def _stamp_from_json(value: Any) -> _Stamp:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 5:
        raise TypeError("stamp")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError("stamp")
    return (value[0], value[1], value[2], value[3], value[4])


def _normalized_name(dist: importlib.metadata.Distribution) -> str:
    # ``entry_points()`` keeps the first distribution of each normalised name; use the same
    # (private, but present from 3.10 on) property, so the merge is exactly the standard one.
    norm = getattr(dist, "_normalized_name", None)
    if isinstance(norm, str):
        return norm
    name = dist.metadata["Name"] or ""  # pragma: no cover - every supported Python has it
    return name.lower().replace("-", "_").replace(".", "_")  # pragma: no cover


def _scan(entry: str, groups: tuple[str, ...]) -> _Entry:
    """Scan one ``sys.path`` entry; its stamp is taken first, so a change during the scan
    leaves a stamp that no longer matches."""
    scanned.append(entry)
    del scanned[:-256]
    stamp = _stamp(entry or ".")
    extra: dict[str, _Stamp] = {}
    names: list[str] = []
    dists: list[tuple[int, str, str, list[tuple[str, str, str]]]] = []
    wanted = set(groups)
    for dist in importlib.metadata.distributions(path=[entry]):
        meta_dir = getattr(dist, "_path", None)
        meta_path = os.path.abspath(str(meta_dir)) if meta_dir is not None else None
        if meta_path is not None and not meta_path.endswith(".dist-info"):
            # .egg-info and EGG-INFO can be rewritten in place by setuptools
            extra[meta_path] = _stamp(meta_path)
            eps_file = os.path.join(meta_path, "entry_points.txt")
            extra[eps_file] = _stamp(eps_file)
        names.append(_normalized_name(dist))
        found = [(ep.group, ep.name, ep.value) for ep in dist.entry_points if ep.group in wanted]
        if not found:
            continue
        if meta_path is not None:
            eps_file = os.path.join(meta_path, "entry_points.txt")
            extra[eps_file] = _stamp(eps_file)
        dists.append((len(names) - 1, dist.metadata["Name"] or "", dist.version or "", found))
    return _Entry(stamp, extra, groups, "\n".join(names), dists)


def _valid(entry: _Entry, path: str, group: str, now: int) -> bool:
    if group not in entry.groups:
        return False
    stamp = _stamp(path)
    if stamp != entry.stamp or _racy(stamp, now):
        return False
    for extra_path, extra_stamp in entry.extra.items():
        current = _stamp(extra_path)
        if current != extra_stamp or _racy(current, now):
            return False
    return True


def _trustworthy(entry: _Entry, now: int) -> bool:
    if _racy(entry.stamp, now):
        return False
    return not any(_racy(s, now) for s in entry.extra.values())


# ---------------------------------------------------------------- the cache file


def cache_file() -> str | None:
    """Where the cache lives: ``$XDG_CACHE_HOME/anaconda-auth`` or ``~/.cache/anaconda-auth``;
    ``None`` (no cache) on a machine with neither a home directory nor ``$XDG_CACHE_HOME``."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home == "~":  # no HOME, no password database entry: never a relative "~" folder
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "anaconda-auth", "entry-points.json")


def _read_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        return {}
    entries = doc.get("entries")
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: str, entries: dict[str, Any]) -> None:
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".entry-points-", suffix=".tmp", dir=directory)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": _FORMAT, "entries": entries}, f, separators=(",", ":"))
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# ---------------------------------------------------------------- the public function


def _searches_sys_path(finder: object) -> bool:
    """The standard finder, or the ``importlib_metadata`` backport's (importing the backport
    puts it on ``sys.meta_path`` and takes over the standard one's distribution lookup): both
    find distributions on ``sys.path`` only, by the same rules."""
    if finder is importlib.machinery.PathFinder:
        return True
    cls = finder if isinstance(finder, type) else type(finder)
    return cls.__module__ == "importlib_metadata" and cls.__name__ == "MetadataPathFinder"


def _cacheable() -> bool:
    """Whether every distribution comes from ``sys.path`` through a finder that only looks
    there (anything else, say a zip application's finder, turns the cache off)."""
    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is None or _searches_sys_path(finder):
            continue
        return False
    return True


def _entries(group: str) -> list[tuple[str, _Entry]]:
    """Each ``sys.path`` entry with what it holds, from the cache where still current."""
    path = cache_file()
    cached = _read_cache(path) if path is not None else {}
    now = time.time_ns()
    result: list[tuple[str, _Entry]] = []
    changed = False
    for raw in sys.path:
        if not isinstance(raw, str):
            continue
        key = os.path.abspath(raw or ".")
        groups: tuple[str, ...] = (*DEFAULT_GROUPS, group)
        entry: _Entry | None = None
        data = cached.get(key)
        if data is not None:
            try:
                old: _Entry | None = _Entry.from_json(data)
            except (ValueError, TypeError, KeyError, AttributeError):
                old = None
            if old is not None:
                if _valid(old, key, group, now):
                    entry = old
                else:
                    groups += old.groups  # keep what was collected for other callers
        if entry is None:
            entry = _scan(key, tuple(dict.fromkeys(groups)))
            if _trustworthy(entry, now):
                cached[key] = entry.to_json()
                changed = True
            elif key in cached:
                del cached[key]
                changed = True
        result.append((key, entry))
    if changed and path is not None:
        current = {key for key, _ in result}
        keep = {k: v for k, v in cached.items() if k in current}
        for k, v in cached.items():
            if len(keep) >= _MAX_ENTRIES:
                break
            keep.setdefault(k, v)
        _write_cache(path, keep)
    return result


def entry_points_for(group: str) -> list[PluginEntryPoint]:
    """The entry points of ``group``, as ``importlib.metadata.entry_points(group=group)``
    returns them (same order; the first distribution of each name wins)."""
    if not _cacheable():
        return [_from_stdlib(ep) for ep in importlib.metadata.entry_points(group=group)]
    with _lock:
        entries = _entries(group)
    seen: set[str] = set()
    found: list[PluginEntryPoint] = []
    for _, entry in entries:
        by_index = {index: (name, version, eps) for index, name, version, eps in entry.dists}
        # the first distribution of a normalised name wins, even one without entry points
        for index, norm in enumerate(entry.names.split("\n") if entry.names else ()):
            if norm in seen:
                continue
            seen.add(norm)
            hit = by_index.get(index)
            if hit is None:
                continue
            name, version, eps = hit
            dist = DistributionInfo(name, version)
            found.extend(PluginEntryPoint(n, v, g, dist) for g, n, v in eps if g == group)
    return found


def entry_points(*, group: str) -> list[PluginEntryPoint]:
    """:func:`entry_points_for` with the keyword signature of ``importlib.metadata``'s."""
    return entry_points_for(group)


def _from_stdlib(ep: importlib.metadata.EntryPoint) -> PluginEntryPoint:
    dist = getattr(ep, "dist", None)
    info = DistributionInfo(dist.name, dist.version) if dist is not None else None
    return PluginEntryPoint(ep.name, ep.value, ep.group, info)


def load_pydantic_plugins() -> None:
    """Let pydantic find its plugins (group ``pydantic``) through :func:`entry_points_for`.

    pydantic scans every distribution the first time a model class is created. Calling its own
    ``get_plugins`` here, with the cached lookup in place of ``importlib.metadata``'s, loads the
    same plugins by pydantic's own rules (``PYDANTIC_DISABLE_PLUGINS``, duplicates, warnings).
    Does nothing when pydantic already looked, or its loader is not the one this knows.
    """
    try:
        from pydantic.plugin import _loader
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return
    if getattr(_loader, "_plugins", False) is not None:
        return
    if getattr(_loader, "entry_points", None) is not importlib.metadata.entry_points:
        return
    if not callable(getattr(_loader, "get_plugins", None)):
        return  # pragma: no cover
    setattr(_loader, "entry_points", entry_points)  # noqa: B010 - only for this one call
    try:
        _loader.get_plugins()
    finally:
        setattr(_loader, "entry_points", importlib.metadata.entry_points)  # noqa: B010


class _MetadataShim:
    """Stands in for the ``importlib.metadata`` module a library looks entry points up in."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def entry_points(self, **params: Any) -> Any:
        group = params.get("group")
        if isinstance(group, str) and set(params) == {"group"}:
            return entry_points_for(group)
        return self._real.entry_points(**params)  # pragma: no cover - not how keyring asks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def load_keyring_backends() -> None:
    """``keyring.backend.get_all_keyring()`` (which loads keyring's backend plugins, group
    ``keyring.backends``, once per process), with :func:`entry_points_for` doing the lookup.

    keyring finds its plugins through ``keyring.backend.metadata`` (``importlib.metadata`` or
    the ``importlib_metadata`` backport); that name points at a stand-in for this one call.
    With another layout, keyring is called as it is.
    """
    import keyring.backend

    real = getattr(keyring.backend, "metadata", None)
    if real is None or not callable(getattr(real, "entry_points", None)):
        keyring.backend.get_all_keyring()  # pragma: no cover - another keyring layout
        return
    setattr(keyring.backend, "metadata", _MetadataShim(real))  # noqa: B010 - for this call
    try:
        keyring.backend.get_all_keyring()
    finally:
        setattr(keyring.backend, "metadata", real)  # noqa: B010
