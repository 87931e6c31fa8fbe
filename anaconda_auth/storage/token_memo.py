"""Remembered token loads: how a client's per-request token lookup costs a few ``stat`` calls.

``TokenInfo.load(domain)`` with the current configuration, when its value came from a writable
store, is remembered together with the memoised configuration it used
(:mod:`anaconda_auth.config.memo`) and the remembered storage read
(:func:`anaconda_auth.storage.access.remembered_read`). While both still hold, the next load
of that domain returns the remembered token without resolving the configuration or asking
the backends: another process's login or logout, or a changed ``ANACONDA_AUTH_*`` variable,
is still seen on the very next call, because both checks look at exactly those inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from anaconda_auth import freshness
from anaconda_auth.config import memo as config_memo
from anaconda_auth.config.model import AnacondaAuthConfig
from anaconda_auth.plugin_types import KEYRING_NAME
from anaconda_auth.storage import access

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.manager import AnacondaAuthPluginManager


T = TypeVar("T")


@dataclass(frozen=True)
class _RememberedLoad:
    entry: Any  # the config memo entry
    manager: AnacondaAuthPluginManager
    config: AnacondaAuthSite
    read: object  # the remembered storage read
    domain: str
    info: Any


_remembered: freshness.Memo[tuple[type, str | None], _RememberedLoad] = freshness.Memo(16)


def clear() -> None:
    freshness.note_local_change()
    _remembered.clear()


def remember(
    cls: type[T],
    requested: str | None,
    domain: str,
    config: AnacondaAuthSite,
    entry: Any,
    manager: AnacondaAuthPluginManager,
    found: tuple[str, Any],
    info: T,
) -> None:
    """Remember ``info`` (a private copy) as the result of ``cls.load(requested)``."""
    remembered = access.remembered_read(KEYRING_NAME, domain, config, manager)
    if remembered is None or remembered[1] != found:
        return
    _remembered.put(
        (cls, requested), _RememberedLoad(entry, manager, config, remembered[0], domain, info)
    )


def peek(cls: type[T], requested: str | None) -> T | None:
    """The remembered ``cls.load(requested)`` itself, not a copy (callers that only read it,
    like ``BaseClient`` for each request, need none). ``None`` if there is none or anything it
    depends on changed; then call ``load``."""
    hit = _remembered.get((cls, requested))
    if hit is None:
        return None
    if not config_memo.still_current(AnacondaAuthConfig, hit.entry):
        return None
    if not access.still_remembered(hit.read, KEYRING_NAME, hit.domain, hit.config, hit.manager):
        return None
    info: T = hit.info
    return info
