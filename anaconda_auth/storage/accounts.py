"""Several accounts per domain (docs/dev/decisions/0049).

The *active* account of a domain is the entry every client reads: service ``Anaconda Cloud``,
username = the domain, 0.15's format. Each *inactive* account is stored beside it, in the same
format, under ``<domain>#account:<account>``; the names of the inactive accounts are listed (a
JSON list) under ``<domain>#accounts``. A ``#`` cannot appear in a host name, so neither name
can collide with a domain. Only get/set/delete by name are used, so this works with every
storage backend.

Every change runs under the per-user token-update lock (the caller holds it: see
:func:`anaconda_auth.storage.update_lock.token_update_lock`), and writes in an order that
never loses an entry if the process dies half-way: the entry that moves is written to its new
place before the old place is overwritten or deleted, so a crash leaves a duplicate at worst.

This module handles stored values as opaque strings, reading only their ``username``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING

from anaconda_auth.exceptions import StorageError
from anaconda_auth.plugin_types import KEYRING_NAME
from anaconda_auth.storage import access

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite

SLOT_MARK = "#account:"
INDEX_SUFFIX = "#accounts"


class AccountError(StorageError):
    """An account that is not stored, or a choice that cannot be made (the message says which)."""


def slot_name(domain: str, account: str) -> str:
    """The storage username of an inactive account of ``domain``."""
    return f"{domain}{SLOT_MARK}{account}"


def index_name(domain: str) -> str:
    return f"{domain}{INDEX_SUFFIX}"


def account_of(value: str | None) -> str | None:
    """The ``username`` in a stored value (None when absent or unreadable)."""
    if value is None:
        return None
    try:
        data = json.loads(base64.b64decode(value))
    except (ValueError, binascii.Error):
        return None
    name = data.get("username") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _get(name: str, config: AnacondaAuthSite) -> str | None:
    found = access.read(KEYRING_NAME, name, config, writable_only=True)
    return found[0] if found is not None else None


def inactive(domain: str, config: AnacondaAuthSite) -> list[str]:
    """The inactive accounts of ``domain``, least recently active first."""
    value = _get(index_name(domain), config)
    if value is None:
        return []
    try:
        names = json.loads(value)
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _set_index(domain: str, names: list[str], config: AnacondaAuthSite) -> None:
    if names:
        access.write(KEYRING_NAME, index_name(domain), json.dumps(names), config)
    else:
        access.delete(KEYRING_NAME, index_name(domain), config)


def active_value(domain: str, config: AnacondaAuthSite) -> str | None:
    return _get(domain, config)


def active(domain: str, config: AnacondaAuthSite) -> str | None:
    """The account of the active entry of ``domain`` (None: none stored, or no username)."""
    return account_of(active_value(domain, config))


def inactive_value(domain: str, account: str, config: AnacondaAuthSite) -> str | None:
    return _get(slot_name(domain, account), config)


def accounts(domain: str, config: AnacondaAuthSite) -> list[str]:
    """Every stored account of ``domain``: the active one first."""
    current = active(domain, config)
    rest = [n for n in reversed(inactive(domain, config)) if n != current]
    return ([current] if current else []) + rest


def _stash(domain: str, value: str, account: str, config: AnacondaAuthSite) -> None:
    """Store ``value`` as the inactive ``account`` (its slot first, then the index)."""
    access.write(KEYRING_NAME, slot_name(domain, account), value, config)
    names = [n for n in inactive(domain, config) if n != account]
    _set_index(domain, [*names, account], config)


def _unstash(domain: str, account: str, config: AnacondaAuthSite) -> None:
    names = inactive(domain, config)
    access.delete(KEYRING_NAME, slot_name(domain, account), config)
    if account in names:
        _set_index(domain, [n for n in names if n != account], config)


def make_active(domain: str, account: str | None, config: AnacondaAuthSite) -> str | None:
    """Before a login stores ``account`` as the active entry: keep the other account.

    When the active entry holds a different (named) account, it is moved to its inactive slot.
    When ``account`` was stored inactive, its stored value is returned (so its repository
    tokens can be kept) and its slot removed. Call with the token-update lock held, then write
    the new active entry.
    """
    current_value = active_value(domain, config)
    current = account_of(current_value)
    if account is None or current_value is None or current is None or current == account:
        return None
    _stash(domain, current_value, current, config)
    previous = inactive_value(domain, account, config)
    if previous is not None:
        _unstash(domain, account, config)
    else:
        access.delete(KEYRING_NAME, domain, config)  # the new login is written next
    return previous


def switch(domain: str, account: str, config: AnacondaAuthSite) -> None:
    """Make the stored inactive ``account`` the active one (lock held by the caller)."""
    target = inactive_value(domain, account, config)
    if target is None:
        raise AccountError(
            f"No account {account!r} is stored for {domain}; stored: "
            f"{', '.join(accounts(domain, config)) or 'none'}."
        )
    current_value = active_value(domain, config)
    current = account_of(current_value)
    if current_value is not None and current is not None and current != account:
        _stash(domain, current_value, current, config)
    access.write(KEYRING_NAME, domain, target, config)
    _unstash(domain, account, config)


def remove(domain: str, account: str | None, config: AnacondaAuthSite) -> tuple[str | None, bool]:
    """Remove ``account`` (default: the active one) of ``domain`` (lock held by the caller).

    When the active account is removed, the most recently active of the others (if any) is
    made active. Returns (the removed account or None if nothing was stored, whether it was
    the active one). Raises :class:`AccountError` for an account that is not stored.
    """
    current_value = active_value(domain, config)
    current = account_of(current_value)
    if account is not None and account != current:
        if inactive_value(domain, account, config) is None:
            raise AccountError(
                f"No account {account!r} is stored for {domain}; stored: "
                f"{', '.join(accounts(domain, config)) or 'none'}."
            )
        _unstash(domain, account, config)
        return account, False
    if current_value is None:
        return None, False
    others = inactive(domain, config)
    if others:
        successor = others[-1]
        value = inactive_value(domain, successor, config)
        if value is not None:
            access.write(KEYRING_NAME, domain, value, config)
            _unstash(domain, successor, config)
            return current, True
        _unstash(domain, successor, config)  # an index entry without its slot
    access.delete(KEYRING_NAME, domain, config)
    return current, True
