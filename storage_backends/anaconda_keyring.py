"""The ``anaconda-keyring`` backend: the default token store, an encrypted file.

The file lives at ``keyring_path`` (default ``~/.anaconda/keyring``); its format (AES-256-GCM,
a key file or a scrypt passphrase) is described in
:mod:`anaconda_auth.storage_backends._keyring_format`, and the atomic, locked writing in
:mod:`anaconda_auth.storage_backends._keyring_files`. This module keeps what is loaded.

Writes happen under a ``filelock`` lock (``<keyring_path>.lock``): read, modify, encrypt, write
a temporary file in the same directory, fsync, ``os.replace``, fsync the directory. Readers take
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
    O_BINARY,
    O_CLOEXEC,
    RACY_NS,
    Stamp,
    content_stamp,
    ensure_directory,
    is_trusted,
    lock_file_path,
    read_fd,
    remove_stale_temp_files,
    stamp,
    write_lock,
    write_private,
)
from anaconda_auth.storage_backends._keyring_format import (
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
    fingerprint,
    is_encrypted,
    key_file_header,
    key_file_path,
    new_passphrase_header,
    parse_header,
    parse_plain,
    passphrase,
    seal,
)
from anaconda_auth.storage_backends._keyring_format import decrypt as _decrypt
from anaconda_auth.storage_backends._keyring_keys import (
    clear_key_files,
    create_key_file,
    key_file_stamp,
    key_for_read,
    key_source_unchanged,
    read_key_file,
)

from anaconda_auth.exceptions import StorageError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import StorageBackend, current_config

__all__ = [
    "BACKEND",
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
    doc: Document = field(repr=False)


_EMPTY = _Snapshot(None, False, b"", KIND_PLAIN, None, None, None, {})


_snapshots: dict[str, _Snapshot] = {}
_crypto_available: bool | None = None


def clear_caches() -> None:
    """Forget every decrypted document and key held by this process."""
    _snapshots.clear()
    clear_key_files()
    clear_derived_keys()


# --------------------------------------------------------------------------------------------
# Reading


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
    try:
        fd = os.open(path, os.O_RDONLY | O_BINARY | O_CLOEXEC)
    except FileNotFoundError:
        _snapshots.pop(cache_key, None)
        return _EMPTY
    except IsADirectoryError:
        raise StorageError(
            f"The token keyring path {path} is a directory. Set keyring_path to a file name."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot read the token keyring {path}: {exc.strerror}. Check its owner and "
            "permissions (it should be yours, mode 0600)."
        ) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise StorageError(
                f"The token keyring path {path} is a directory. Set keyring_path to a file name."
            )
        raw = read_fd(fd, st.st_size)
    finally:
        os.close(fd)
    trusted = is_trusted(st)

    if not raw:
        # anaconda-auth 0.15 creates an empty file when it probes the path; nothing is lost.
        new = _Snapshot(stamp(st), trusted, raw, KIND_PLAIN, None, None, None, {})
    elif not is_encrypted(raw):
        new = _Snapshot(
            stamp(st), trusted, raw, KIND_PLAIN, None, None, None, parse_plain(raw, path)
        )
    else:
        header = parse_header(raw, path)
        key, key_source = key_for_read(header, path)
        if snap is not None and snap.raw == raw and snap.key == key:
            new = replace(snap, stamp=stamp(st), trusted=trusted, key_source=key_source)
        else:
            doc = _decrypt(raw, header, key, path)
            new = _Snapshot(stamp(st), trusted, raw, header.kind, header, key_source, key, doc)
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
    elif os.path.lexists(key_file_path(path)):
        key = read_key_file(path, fresh=True)[0]
    else:
        key = create_key_file(path)
    return key_file_header(key, nonce), key


def _update(path: Path, change: Callable[[Document], bool]) -> None:
    """Read, change and write back the keyring, all under the cross-process lock."""
    ensure_directory(path.parent)
    with write_lock(path, LOCK_TIMEOUT):
        current = _load(path, fresh=True)
        doc = {service: dict(users) for service, users in current.doc.items()}
        phrase = passphrase()
        if not change(doc):
            if current.stamp is None:
                return  # nothing to remove from a keyring that does not exist
            wanted = KIND_PASSPHRASE if phrase else KIND_KEY_FILE
            if current.kind == wanted and (
                phrase is None or current.key_source == fingerprint(phrase)
            ):
                return  # already up to date: no needless write
        # A symlinked keyring (dotfiles, a mounted secret) is replaced where it points, so the
        # link survives; the key and lock files stay next to the configured path.
        target = Path(os.path.realpath(path)) if os.path.islink(path) else path
        remove_stale_temp_files(target.parent, (target.name, key_file_path(target).name))
        try:
            header, key = _header_and_key(path, current, phrase)
            data = seal(doc, header, key)
            st = write_private(target, data, replace_existing=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot write the token keyring {path}: {exc.strerror}. Check that "
                f"{target.parent} is writable and the disk is not full."
            ) from None
        key_source: object = fingerprint(phrase) if phrase is not None else key_file_stamp(path)
        _snapshots[os.fspath(path)] = _Snapshot(
            stamp(st), False, data, header.kind, header, key_source, key, doc
        )
        if current.kind == KIND_PLAIN and current.stamp is not None:
            log.info("upgraded the plaintext token keyring %s to the encrypted format", path)


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
        self._fixed_path = Path(path).expanduser() if path is not None else None

    def __repr__(self) -> str:
        where = self._fixed_path if self._fixed_path is not None else "keyring_path"
        return f"<{type(self).__name__} {where}>"

    @property
    def path(self) -> Path:
        """The keyring file this backend uses now."""
        if self._fixed_path is not None:
            return self._fixed_path
        # Inside a token operation this is the configuration it already resolved.
        return current_config().keyring_path

    @property
    def key_path(self) -> Path:
        return key_file_path(self.path)

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
        try:
            kst = os.stat(path + ".key")
        except FileNotFoundError:
            pass
        except OSError:
            return None
        else:
            if now - kst.st_mtime_ns < RACY_NS:
                key = content_stamp(path + ".key", kst)
                if key is None:
                    return None
            else:
                key = (kst.st_dev, kst.st_ino, kst.st_mtime_ns, kst.st_ctime_ns, kst.st_size)
        configured = passphrase()
        phrase = fingerprint(configured) if configured is not None else None
        return (path, file, st.st_uid, st.st_gid, key, phrase)

    def get_password(self, service: str, username: str) -> str | None:
        return _load(self.path).doc.get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        def change(doc: Document) -> bool:
            users = doc.setdefault(service, {})
            if users.get(username) == password:
                return False
            users[username] = password
            return True

        _update(self.path, change)

    def delete_password(self, service: str, username: str) -> None:
        def change(doc: Document) -> bool:
            users = doc.get(service)
            if users is None or username not in users:
                return False
            del users[username]
            if not users:
                del doc[service]
            return True

        _update(self.path, change)


BACKEND = AnacondaKeyringBackend()


@hookimpl
def anaconda_auth_storage_backends() -> Iterable[StorageBackend]:
    return [BACKEND]
