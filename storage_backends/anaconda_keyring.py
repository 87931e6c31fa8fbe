"""The ``anaconda-keyring`` backend: the default token store, an encrypted file.

The file lives at ``keyring_path`` (default ``~/.anaconda/keyring``); its format (a JSON
document that anaconda-auth 0.15 can parse, holding the keyring sealed with AES-256-GCM under a
key file or a scrypt passphrase) is described in
:mod:`anaconda_auth.storage_backends._keyring_format`, and the atomic, locked writing in
:mod:`anaconda_auth.storage_backends._keyring_files` (with the guarded reading of the file).
This module keeps what is loaded.

Sharing the file with 0.15 (another environment, same home directory): 0.15 sees none of the
encrypted entries and adds plaintext ones next to them. A plaintext entry is always newer than
an encrypted one for the same service and user (every write here removes the plaintext copy of
the entry it writes), so reads prefer it. Each write encrypts the plaintext logins
(service ``Anaconda Cloud``) and removes them from the plaintext part: 0.15 then sees "not
logged in" there, and nothing is lost. Plaintext entries of other services (programs that used
0.15's keyring backend) stay where those programs look for them, unless this package writes or
deletes that same entry. 0.15 writes without a lock and in place, so a read that finds a
half-written (empty or unparsable) file modified a moment ago reads it again, and a write checks
just before replacing the file that it still holds what was read, else starts over.

Writes happen under a ``filelock`` lock (``<real path>.lock``, where the real path is
``keyring_path`` with every symlink followed, as for the key file and the temporary files, so
that a process using a symlink and one using the real path exclude each other): read, modify,
encrypt, write a temporary file in the same directory, fsync, ``os.replace``, fsync the
directory. Only regular files are read, at most ``MAX_FILE_SIZE`` (16 MiB) of them, and never
with a blocking open (a named pipe at the path is an error, not a hang). Readers take
no lock; they always see a complete old or new file. Reads are cached by the file's
``(st_ino, st_mtime_ns, st_size)`` and the key source, so a warm read is a ``stat()`` and a
dictionary lookup. A file modified less than two seconds before it was read is "racily clean"
(a rewrite in the same timestamp tick could keep the same stamp), so for those the bytes are
compared instead of trusting the stamp, as git does for its index.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from anaconda_auth.storage_backends._keyring_files import (
    MAX_FILE_SIZE,
    RACY_NS,
    FileChanged,
    NotAFile,
    Stamp,
    check_regular,
    content_stamp,
    ensure_directory,
    file_kind,
    is_trusted,
    lock_file_path,
    probe_directory,
    read_settled,
    real_path,
    remove_stale_temp_files,
    stamp,
    too_large,
    write_lock,
    write_private,
)
from anaconda_auth.storage_backends._keyring_files import SETTLE_DELAYS as SETTLE_DELAYS
from anaconda_auth.storage_backends._keyring_format import (
    ENVELOPE_ENTRY,
    ENVELOPE_SERVICE,
    FORMAT_VERSION,
    HEADER_SIZE,
    KEY_FILE_PREFIX,
    KEY_SIZE,
    KIND_KEY_FILE,
    KIND_PASSPHRASE,
    KIND_PLAIN,
    MAGIC,
    NONCE_SIZE,
    PASSPHRASE_ENV,
    SCRYPT_LOG2_N,
    SCRYPT_P,
    SCRYPT_R,
    Document,
    Header,
    clear_derived_keys,
    damaged,
    envelope,
    fingerprint,
    key_file_header,
    key_file_path,
    new_passphrase_header,
    overlay,
    parse_header,
    passphrase,
    seal,
    split_envelope,
)
from anaconda_auth.storage_backends._keyring_format import decrypt as _decrypt
from anaconda_auth.storage_backends._keyring_keys import (
    clear_key_files,
    create_key_file,
    key_file_stamp,
    key_for_read,
    key_source_unchanged,
    read_key_file,
    real_key_path,
    real_key_path_of,
)

from anaconda_auth.exceptions import StorageError
from anaconda_auth.freshness import expand_path, note_local_change
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import KEYRING_NAME, StorageBackend, current_config

__all__ = [
    "BACKEND",
    "ENVELOPE_ENTRY",
    "ENVELOPE_SERVICE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "KEY_FILE_PREFIX",
    "KEY_SIZE",
    "KIND_KEY_FILE",
    "KIND_PASSPHRASE",
    "KIND_PLAIN",
    "LOCK_TIMEOUT",
    "MAGIC",
    "PASSPHRASE_ENV",
    "SCRYPT_LOG2_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "AnacondaKeyringBackend",
    "anaconda_auth_storage_backends",
    "clear_caches",
    "key_file_path",
    "lock_file_path",
]

log = logging.getLogger(__name__)

#: Seconds to wait for another process's write before giving up.
LOCK_TIMEOUT = 10.0

#: Writes started over when a writer without the lock changed the file meanwhile.
WRITE_ATTEMPTS = 5

# What the file on disk is.
LAYOUT_NONE = 0  # no file
LAYOUT_JSON = 1  # JSON without an encrypted keyring: written by 0.15, or an empty file
LAYOUT_SEALED = 2  # a bare sealed keyring: written by anaconda-auth before the JSON envelope
LAYOUT_ENVELOPE = 3  # the current form: JSON holding the sealed keyring, maybe 0.15's entries


# --------------------------------------------------------------------------------------------
# The in-memory state: parsed files and keys, never shown in reprs


@dataclass(frozen=True)
class _Snapshot:
    """One version of a keyring file, decrypted."""

    stamp: Stamp | None  # None: no file
    trusted: bool  # the stamp alone identifies this content (not racily clean)
    raw: bytes = field(repr=False)
    kind: int
    header: Header | None
    #: key file stamp (KIND_KEY_FILE) or passphrase fingerprint (KIND_PASSPHRASE)
    key_source: object = field(repr=False)
    key: bytes | None = field(repr=False)
    #: what reads answer: the encrypted entries, overlaid with the plaintext ones
    doc: Document = field(repr=False)
    #: the plaintext entries of the file (written by 0.15)
    plain: Document = field(repr=False)
    layout: int


_EMPTY = _Snapshot(None, False, b"", KIND_PLAIN, None, None, None, {}, {}, LAYOUT_NONE)


_snapshots: dict[str, _Snapshot] = {}
_crypto_available: bool | None = None


def clear_caches() -> None:
    """Forget every decrypted document and key held by this process."""
    note_local_change()
    _snapshots.clear()
    clear_key_files()
    clear_derived_keys()


# --------------------------------------------------------------------------------------------
# Reading


def _open_sealed(blob: bytes, header: Header, key: bytes, path: Path, depth: int = 0) -> Document:
    """The entries of a sealed keyring.

    An anaconda-auth from before the JSON envelope that was run on an envelope file read it as
    0.15's plaintext and sealed the whole document, envelope entry included: the inner keyring
    is opened too, and the outer entries (written later) are set over it.
    """
    doc = _decrypt(blob, header, key, path)
    inner, rest = split_envelope(doc, path)
    if inner is None:
        return doc
    if depth >= 4:
        raise damaged(path, "encrypted keyrings nested too deep")
    inner_header = parse_header(inner, path)
    inner_key = key_for_read(inner_header, path, inner)[0]
    return overlay(_open_sealed(inner, inner_header, inner_key, path, depth + 1), rest)


def _load(path: Path, *, fresh: bool = False) -> _Snapshot:
    """The current content of the keyring at ``path``.

    ``fresh`` skips the stamp-only shortcut (used under the write lock).
    """
    cache_key = os.fspath(path)
    snap = _snapshots.get(cache_key)
    if not fresh and snap is not None and snap.trusted:
        try:
            st = os.stat(cache_key)
        except FileNotFoundError:
            _snapshots.pop(cache_key, None)
            return _EMPTY
        except OSError:
            pass  # reported by the full read below
        else:
            if stamp(st) == snap.stamp and key_source_unchanged(
                snap.kind, snap.key, snap.key_source, cache_key
            ):
                return snap
    got = read_settled(path)
    if got is None:
        _snapshots.pop(cache_key, None)
        return _EMPTY
    raw, st, outer = got
    trusted = is_trusted(st)
    if outer is None:
        blob: bytes | None = raw
        plain: Document = {}
        layout = LAYOUT_SEALED
    else:
        blob, plain = split_envelope(outer, path)
        layout = LAYOUT_JSON if blob is None else LAYOUT_ENVELOPE

    if blob is None:
        new = _Snapshot(stamp(st), trusted, raw, KIND_PLAIN, None, None, None, plain, plain, layout)
    else:
        header = parse_header(blob, path)
        key, key_source = key_for_read(header, path, blob)
        if snap is not None and snap.raw == raw and snap.key == key:
            new = replace(snap, stamp=stamp(st), trusted=trusted, key_source=key_source)
        else:
            sealed = _open_sealed(blob, header, key, path)
            doc = overlay(sealed, plain) if plain else sealed
            new = _Snapshot(
                stamp(st), trusted, raw, header.kind, header, key_source, key, doc, plain, layout
            )
    _snapshots[cache_key] = new
    return new


# --------------------------------------------------------------------------------------------
# Writing


def _header_and_key(path: Path, current: _Snapshot, phrase: str | None) -> tuple[Header, bytes]:
    """How to encrypt the next version: the configured key source, reusing what is loaded."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    if phrase is not None:
        old = current.header
        if (
            current.kind == KIND_PASSPHRASE
            and old is not None
            and current.key is not None
            and current.key_source == fingerprint(phrase)
        ):
            return replace(old, nonce=nonce), current.key
        return new_passphrase_header(phrase, nonce)
    if current.kind == KIND_KEY_FILE and current.key is not None:
        key = current.key
    elif os.path.lexists(real_key_path(path)):
        key = read_key_file(path, fresh=True)[0]
    else:
        key = create_key_file(path)
    return key_file_header(key, nonce), key


def _arrange(doc: Document, plain: Document, written: tuple[str, str]) -> tuple[Document, Document]:
    """Split the next version into encrypted entries and the plaintext entries kept for 0.15.

    ``plain`` holds the plaintext entries of the file as read; ``written`` is the entry this
    write sets or deletes. Kept in plaintext: entries of services other than the logins
    (``KEYRING_NAME``) that are plaintext now and not the one written. Everything else is
    encrypted, so no entry is ever both encrypted and plaintext after a write of ours.
    """
    sealed: Document = {}
    kept: Document = {}
    for service, users in doc.items():
        for user, value in users.items():
            keep = (
                service != KEYRING_NAME
                and (service, user) != written
                and user in plain.get(service, {})
            )
            (kept if keep else sealed).setdefault(service, {})[user] = value
    return sealed, kept


def _up_to_date(current: _Snapshot, kept: Document, phrase: str | None) -> bool:
    """Whether the file needs no write when the entries did not change."""
    if current.stamp is None:
        return True  # nothing to remove from a keyring that does not exist
    if current.layout != LAYOUT_ENVELOPE or kept != current.plain:
        return False  # an older form to upgrade, or 0.15's logins to encrypt
    wanted = KIND_PASSPHRASE if phrase else KIND_KEY_FILE
    return current.kind == wanted and (phrase is None or current.key_source == fingerprint(phrase))


def _update(path: Path, written: tuple[str, str], change: Callable[[Document], bool]) -> None:
    """Read, change and write back the keyring, all under the cross-process lock.

    ``written`` is the entry ``change`` sets or deletes.

    The lock, the key file and the temporary files belong to the keyring's real path (every
    symlink followed), so that processes reaching it through a symlink and through its real
    path exclude each other; a symlink is replaced where it points, so the link survives.
    """
    ensure_directory(path.parent)
    target = real_path(path)
    with write_lock(target, LOCK_TIMEOUT):
        # Temporary files of writers that died, removed even when nothing is written.
        remove_stale_temp_files(target.parent, (target.name, key_file_path(target).name))
        for _ in range(WRITE_ATTEMPTS):
            current = _load(path, fresh=True)
            doc = {service: dict(users) for service, users in current.doc.items()}
            changed = change(doc)
            sealed, kept = _arrange(doc, current.plain, written)
            phrase = passphrase()
            if not changed and _up_to_date(current, kept, phrase):
                return
            try:
                header, key = _header_and_key(path, current, phrase)
                data = envelope(seal(sealed, header, key), kept)
                st = write_private(
                    target,
                    data,
                    replace_existing=True,
                    expected=current.raw if current.stamp is not None else None,
                )
            except FileChanged:
                log.debug("the token keyring %s changed while it was written; again", path)
                continue
            except OSError as exc:
                raise StorageError(
                    f"Cannot write the token keyring {path}: {exc.strerror}. Check that "
                    f"{target.parent} is writable and the disk is not full."
                ) from None
            note_local_change()
            key_source: object = fingerprint(phrase) if phrase is not None else key_file_stamp(path)
            _snapshots[os.fspath(path)] = _Snapshot(
                stamp(st),
                False,
                data,
                header.kind,
                header,
                key_source,
                key,
                overlay(sealed, kept),
                kept,
                LAYOUT_ENVELOPE,
            )
            absorbed = sum(len(users) for users in current.plain.values()) - sum(
                len(users) for users in kept.values()
            )
            if current.layout == LAYOUT_JSON and current.stamp is not None:
                log.info("upgraded the plaintext token keyring %s to the encrypted format", path)
            elif absorbed > 0:
                log.info(
                    "encrypted %d plaintext entr%s that anaconda-auth 0.15 saved in %s",
                    absorbed,
                    "y" if absorbed == 1 else "ies",
                    path,
                )
            return
    raise StorageError(
        f"Could not write the token keyring {path}: another program (anaconda-auth 0.15?) "
        f"rewrote it {WRITE_ATTEMPTS} times while this one was writing. Try again."
    )


# --------------------------------------------------------------------------------------------
# The backend


def _cryptography_available() -> bool:
    global _crypto_available
    if _crypto_available is None:
        import importlib.util

        _crypto_available = importlib.util.find_spec("cryptography") is not None
    return _crypto_available


class AnacondaKeyringBackend:
    """Tokens in an encrypted file, ``keyring_path`` (default ``~/.anaconda/keyring``).

    ``path`` pins the file (tests, tools); by default it is ``keyring_path`` of the configuration
    of the operation in progress (``current_config()``), resolved again for each operation, so a
    change of ``keyring_path`` is seen at once.
    """

    name = "anaconda-keyring"
    description = "encrypted file at keyring_path (default ~/.anaconda/keyring)"
    priority = 50
    read_only = False

    def __init__(self, path: Path | str | None = None) -> None:
        self._fixed_path = expand_path(path, "the keyring path") if path is not None else None

    def __repr__(self) -> str:
        where = self._fixed_path if self._fixed_path is not None else "keyring_path"
        return f"<{type(self).__name__} {where}>"

    @property
    def path(self) -> Path:
        """The keyring file this backend uses now."""
        if self._fixed_path is not None:
            return self._fixed_path
        # Inside a token operation this is the configuration it already resolved.
        return expand_path(current_config().keyring_path, "keyring_path")

    @property
    def key_path(self) -> Path:
        """The key file: next to the keyring's real path (symlinks followed)."""
        return real_key_path(self.path)

    def is_available(self) -> tuple[bool, str]:
        if not _cryptography_available():
            return False, "the 'cryptography' package is not installed"
        path = self.path
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            pass  # see below whether it can be created
        except OSError as exc:
            return False, f"cannot access {path}: {exc.strerror}"
        else:
            if stat.S_ISDIR(st.st_mode):
                return False, f"keyring_path {path} is a directory"
            if not stat.S_ISREG(st.st_mode):
                return False, f"keyring_path {path} is {file_kind(st.st_mode)}, not a file"
            if st.st_size > MAX_FILE_SIZE:
                return False, f"{path} is {too_large(st.st_size)}: it is not a keyring"
            if not os.access(path, os.R_OK):
                return False, f"{path} is not readable by this user"
            return True, ""
        directory = path.parent
        while not directory.exists() and directory.parent != directory:
            directory = directory.parent
        if not directory.is_dir():
            return False, f"cannot create {path}: {directory} is not a directory"
        if not os.access(directory, os.W_OK | os.X_OK):
            return False, f"cannot create {path}: {directory} is not writable"
        return True, ""

    def read_stamp(self, service: str, username: str) -> object | None:
        """A value that changes whenever ``is_available()`` or ``get_password()`` may answer
        differently (see ``StampedStorageBackend``): the path, the stat of the file and of its
        key file (or the passphrase's fingerprint). ``None`` (do not remember the read) when the
        file is missing. A file changed in the last two seconds, whose stat may not be unique
        yet, is stamped by its bytes: reads right after a login or a save stay remembered."""
        path = os.fspath(self.path)
        now = time.time_ns()
        try:
            st = os.stat(path)
        except OSError:
            return None
        file: object
        if now - st.st_mtime_ns < RACY_NS:
            file = content_stamp(path, st)
            if file is None:
                return None
        else:
            file = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)
        key: object = None
        key_path = real_key_path_of(path, st)
        try:
            kst = os.stat(key_path)
        except FileNotFoundError:
            pass
        except OSError:
            return None
        else:
            if now - kst.st_mtime_ns < RACY_NS:
                key = content_stamp(key_path, kst)
                if key is None:
                    return None
            else:
                key = (kst.st_dev, kst.st_ino, kst.st_mtime_ns, kst.st_ctime_ns, kst.st_size)
        configured = passphrase()
        phrase = fingerprint(configured) if configured is not None else None
        return (path, file, st.st_uid, st.st_gid, key, phrase)

    def check_writable(self) -> tuple[bool, str]:
        """Whether a write would succeed now, proven without leaving anything behind: the
        keyring's real directory accepts a new file (one is created and removed at once), the
        lock file can be taken, and the keyring and key file, where they exist, are files.
        Asked before a login starts, so no API key is minted that cannot be saved."""
        ok, reason = self.is_available()
        if not ok:
            return ok, reason
        path = self.path
        real = real_path(path)
        for what, file in (("the token keyring", real), ("its key file", key_file_path(real))):
            try:
                check_regular(os.stat(file))
            except FileNotFoundError:
                pass
            except NotAFile as exc:
                return False, f"{what} {file} is {exc.what}"
            except OSError as exc:
                return False, f"cannot access {file}: {exc.strerror}"
        directory = real.parent
        while not directory.exists() and directory.parent != directory:
            directory = directory.parent  # created by the write; probed where it would start
        try:
            probe_directory(directory, real.name)
        except OSError as exc:
            return False, f"cannot create files in {directory}: {exc.strerror}"
        lock = lock_file_path(real)
        try:
            lock_stat = os.lstat(lock)
        except FileNotFoundError:
            return True, ""  # created by the write, in a directory just proven writable
        except OSError as exc:
            return False, f"cannot access the lock file {lock}: {exc.strerror}"
        if stat.S_ISDIR(lock_stat.st_mode):
            return False, f"the lock file {lock} is a directory"
        try:
            with write_lock(real, LOCK_TIMEOUT):
                pass
        except StorageError as exc:
            return False, str(exc).rstrip(".")
        return True, ""

    def get_password(self, service: str, username: str) -> str | None:
        return _load(self.path).doc.get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        if service == ENVELOPE_SERVICE:
            raise StorageError(
                f"The service name {ENVELOPE_SERVICE!r} is reserved for the keyring's own data."
            )

        def change(doc: Document) -> bool:
            users = doc.setdefault(service, {})
            if users.get(username) == password:
                return False
            users[username] = password
            return True

        _update(self.path, (service, username), change)

    def delete_password(self, service: str, username: str) -> None:
        def change(doc: Document) -> bool:
            users = doc.get(service)
            if users is None or username not in users:
                return False
            del users[username]
            if not users:
                del doc[service]
            return True

        _update(self.path, (service, username), change)


BACKEND = AnacondaKeyringBackend()


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return [BACKEND]
