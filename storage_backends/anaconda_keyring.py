"""The ``anaconda-keyring`` backend: the default token store, an encrypted file.

The file lives at ``keyring_path`` (default ``~/.anaconda/keyring``) and holds one JSON
document ``{service: {username: value}}``, the same shape as the plaintext file of
anaconda-auth 0.15, encrypted with AES-256-GCM. Layout (all integers big-endian)::

    offset  size  field
         0     8  magic  b"\\x81AKR\\r\\n\\x1a\\n"
         8     1  format version (1)
         9     1  key kind: 1 = key file, 2 = passphrase (scrypt)
        10     1  scrypt log2(N)   } zero for a key file
        11     1  scrypt r         }
        12     1  scrypt p         }
        13    16  scrypt salt      }
        29     8  key id: HMAC-SHA256(key, "anaconda-keyring key id")[:8]
        37    12  AES-GCM nonce (random per write)
        49     -  AES-GCM ciphertext of the JSON document, then the 16-byte tag

The 49-byte header is the associated data, so no byte of the file can change unnoticed.
The key is never in the file: it is either a separate key file next to it
(``<keyring_path>.key``, mode 0600, created on the first write) or derived with scrypt from
``ANACONDA_AUTH_KEYRING_PASSPHRASE`` when that is set. The key id tells a wrong key apart from a
damaged file, so error messages can name the right remedy.

The magic starts with byte 0x81, invalid both as UTF-8 and as cp1252: anaconda-auth 0.15, which
reads the path as JSON text, fails loudly on an encrypted file instead of treating it as empty
and overwriting it.

Writes happen under a ``filelock`` lock (``<keyring_path>.lock``): read, modify, encrypt, write
a temporary file in the same directory, fsync, ``os.replace``, fsync the directory. Readers take
no lock; they always see a complete old or new file. Reads are cached by the file's
``(st_ino, st_mtime_ns, st_size)`` and the key source, so a warm read is a ``stat()`` and a
dictionary lookup. A file modified less than two seconds before it was read is "racily clean"
(a rewrite in the same timestamp tick could keep the same stamp), so for those the bytes are
compared instead of trusting the stamp, as git does for its index.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from anaconda_auth.exceptions import StorageError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import StorageBackend, current_config

log = logging.getLogger(__name__)

Document = dict[str, dict[str, str]]

#: When set (and not empty), new keyring files are encrypted with a key derived from it
#: instead of the key file.
PASSPHRASE_ENV = "ANACONDA_AUTH_KEYRING_PASSPHRASE"

MAGIC = b"\x81AKR\r\n\x1a\n"
FORMAT_VERSION = 1
KIND_PLAIN = 0  # plaintext JSON (or an empty file) written by anaconda-auth 0.15, or no file
KIND_KEY_FILE = 1
KIND_PASSPHRASE = 2
_HEADER = struct.Struct(">8sBBBBB16s8s12s")
HEADER_SIZE = _HEADER.size
_TAG_SIZE = 16
KEY_SIZE = 32
KEY_FILE_PREFIX = b"anaconda-keyring-key-v1:"
_KEY_ID_LABEL = b"anaconda-keyring key id"

#: scrypt cost for new passphrase-protected files (about 32 MiB and 0.1-0.3 s, once per process).
SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
# Bounds accepted when reading a header, so a crafted file cannot ask for gigabytes.
_SCRYPT_LIMITS = {"log2_n": (10, 20), "r": (1, 16), "p": (1, 4)}

#: Seconds to wait for another process's write before giving up.
LOCK_TIMEOUT = 10.0

_RACY_NS = 2_000_000_000
_O_BINARY: int = getattr(os, "O_BINARY", 0)
_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_WINDOWS = sys.platform == "win32"


def key_file_path(path: Path) -> Path:
    """The key file that goes with the keyring at ``path``."""
    return Path(os.fspath(path) + ".key")


def lock_file_path(path: Path) -> Path:
    return Path(os.fspath(path) + ".lock")


def _move_aside(path: Path) -> str:
    return (
        f"move it aside (for example `mv {path} {path}.broken`) and log in again with "
        "`anaconda login`"
    )


# --------------------------------------------------------------------------------------------
# The in-memory state: parsed files and keys, never shown in reprs


@dataclass(frozen=True)
class _Header:
    kind: int
    log2_n: int
    r: int
    p: int
    salt: bytes
    key_id: bytes
    nonce: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            self.kind,
            self.log2_n,
            self.r,
            self.p,
            self.salt,
            self.key_id,
            self.nonce,
        )


@dataclass(frozen=True)
class _Snapshot:
    """One version of a keyring file, decrypted."""

    stamp: tuple[int, int, int] | None  # None: no file
    trusted: bool  # the stamp alone identifies this content (not racily clean)
    raw: bytes = field(repr=False)
    kind: int
    header: _Header | None
    #: key file stamp (KIND_KEY_FILE) or passphrase fingerprint (KIND_PASSPHRASE)
    key_source: object = field(repr=False)
    key: bytes | None = field(repr=False)
    doc: Document = field(repr=False)


_EMPTY = _Snapshot(None, False, b"", KIND_PLAIN, None, None, None, {})


@dataclass(frozen=True)
class _KeyFile:
    stamp: tuple[int, int, int]
    trusted: bool
    key: bytes = field(repr=False)


_snapshots: dict[str, _Snapshot] = {}
_key_files: dict[str, _KeyFile] = {}
_derived_keys: dict[tuple[bytes, bytes, int, int, int], bytes] = {}
_warned_dirs: set[str] = set()
_crypto_available: bool | None = None


def clear_caches() -> None:
    """Forget every decrypted document and key held by this process."""
    _snapshots.clear()
    _key_files.clear()
    _derived_keys.clear()


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _is_trusted(st: os.stat_result) -> bool:
    return st.st_mtime_ns < time.time_ns() - _RACY_NS


#: os.environ's own mapping and its encoded key for PASSPHRASE_ENV (CPython details, as in
#: ``anaconda_auth._config_cache``): looked up on every read_stamp, i.e. every client request,
#: where ``os.environ.get`` of an unset variable costs ~0.7 µs (it raises KeyError inside).
_ENV_DATA: Any = getattr(os.environ, "_data", None)
_PASSPHRASE_KEY: Any = None
if _ENV_DATA is not None:
    try:
        _PASSPHRASE_KEY = os.environ.encodekey(PASSPHRASE_ENV)
    except AttributeError:
        _ENV_DATA = None


def _passphrase() -> str | None:
    if _ENV_DATA is not None:
        raw = _ENV_DATA.get(_PASSPHRASE_KEY)
        return os.environ.decodevalue(raw) if raw else None
    return os.environ.get(PASSPHRASE_ENV) or None


def _fingerprint(passphrase: str) -> bytes:
    """An in-memory identifier for a passphrase (cache keys only; never written anywhere)."""
    return hashlib.sha256(b"anaconda-keyring passphrase\0" + passphrase.encode()).digest()


#: perf: the largest file :func:`_content_stamp` reads (a keyring holds a few KiB).
_CONTENT_STAMP_MAX = 1 << 20


def _content_stamp(path: str, st: os.stat_result) -> tuple[str, int, bytes] | None:
    """A file's mode and bytes, as the stamp of a file changed in the last two seconds (a later
    change within the file system's timestamp granularity could keep its stat). One read of a
    small file, far cheaper than the full read (and decryption) a missing stamp causes.
    ``None`` when it cannot be read or is large."""
    if st.st_size > _CONTENT_STAMP_MAX:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY | _O_CLOEXEC)
    except OSError:
        return None
    try:
        data = _read_fd(fd, st.st_size)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > _CONTENT_STAMP_MAX:
        return None
    return ("content", st.st_mode, data)


def _key_id(key: bytes) -> bytes:
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:8]


def _read_fd(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = max(size, 0)
    while True:
        chunk = os.read(fd, max(remaining, 65536))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        remaining -= len(chunk)


# --------------------------------------------------------------------------------------------
# Keys


def _parse_key_file(raw: bytes, key_path: Path, path: Path) -> bytes:
    text = raw.strip()
    if text.startswith(KEY_FILE_PREFIX):
        try:
            key = base64.urlsafe_b64decode(text[len(KEY_FILE_PREFIX) :])
        except (binascii.Error, ValueError):
            key = b""
        if len(key) == KEY_SIZE:
            return key
    raise StorageError(
        f"The key file {key_path} of the token keyring {path} is damaged (it does not hold an "
        "anaconda-keyring key). Restore it from the machine where the keyring was created, or "
        f"move both {path} and {key_path} aside and log in again with `anaconda login`."
    )


def _make_private(fd: int, st: os.stat_result, key_path: Path) -> None:
    """Tighten a key file others can read (``scp`` without ``-p`` creates it 0644)."""
    if _WINDOWS or not stat.S_IMODE(st.st_mode) & 0o077:
        return
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        log.warning(
            "The key file %s can be read by other users (mode %04o); run `chmod 600 %s`.",
            key_path,
            stat.S_IMODE(st.st_mode),
            key_path,
        )
    else:
        log.info("made the key file %s private (mode 0600)", key_path)


def _read_key_file(path: Path, *, fresh: bool = False) -> tuple[bytes, tuple[int, int, int]]:
    """The key in the key file of ``path`` and the key file's stamp (cached by stamp)."""
    key_path = key_file_path(path)
    cache_key = os.fspath(path)  # key files are cached by the keyring they belong to
    try:
        fd = os.open(key_path, os.O_RDONLY | _O_BINARY | _O_CLOEXEC)
    except FileNotFoundError:
        raise StorageError(
            f"The token keyring {path} is encrypted with the key file {key_path}, which does "
            f"not exist. If you copied the keyring from another machine, copy "
            f"{key_path.name} from the same directory there too (keep it private: "
            f"`chmod 600 {key_path}`). Otherwise " + _move_aside(path) + "."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot read the key file {key_path} of the token keyring {path}: "
            f"{exc.strerror}. Check its owner and permissions (it should be yours, mode 0600)."
        ) from None
    try:
        st = os.fstat(fd)
        cached = _key_files.get(cache_key)
        if not fresh and cached is not None and cached.trusted and cached.stamp == _stamp(st):
            return cached.key, cached.stamp
        raw = _read_fd(fd, st.st_size)
        _make_private(fd, st, key_path)
    finally:
        os.close(fd)
    key = _parse_key_file(raw, key_path, path)
    _key_files[cache_key] = _KeyFile(_stamp(st), _is_trusted(st), key)
    return key, _stamp(st)


def _derive_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    cache_key = (_fingerprint(passphrase), salt, log2_n, r, p)
    key = _derived_keys.get(cache_key)
    if key is None:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        key = Scrypt(salt=salt, length=KEY_SIZE, n=1 << log2_n, r=r, p=p).derive(
            passphrase.encode("utf-8")
        )
        if len(_derived_keys) >= 8:
            _derived_keys.clear()
        _derived_keys[cache_key] = key
    return key


# --------------------------------------------------------------------------------------------
# Reading


def _damaged(path: Path, what: str) -> StorageError:
    return StorageError(
        f"The token keyring {path} is damaged ({what}); anaconda-auth will not read or "
        "overwrite it. Restore it from a backup, or " + _move_aside(path) + "."
    )


def _parse_plain(raw: bytes, path: Path) -> Document:
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged(path, "it is neither an encrypted keyring nor a JSON document") from None
    if not isinstance(doc, dict) or not all(
        isinstance(s, str)
        and isinstance(users, dict)
        and all(isinstance(u, str) and isinstance(v, str) for u, v in users.items())
        for s, users in doc.items()
    ):
        raise _damaged(path, "the JSON document is not {service: {username: value}}")
    return doc


def _parse_header(raw: bytes, path: Path) -> _Header:
    if len(raw) < HEADER_SIZE + _TAG_SIZE or not raw.startswith(MAGIC):
        raise _damaged(path, "the file is truncated or not an anaconda-keyring file")
    _, version, kind, log2_n, r, p, salt, key_id, nonce = _HEADER.unpack_from(raw)
    if version != FORMAT_VERSION:
        raise StorageError(
            f"The token keyring {path} has format version {version}, written by a newer "
            "anaconda-auth than this one (which reads version "
            f"{FORMAT_VERSION}). Upgrade anaconda-auth, or " + _move_aside(path) + "."
        )
    if kind == KIND_PASSPHRASE:
        bounds = _SCRYPT_LIMITS
        if not (
            bounds["log2_n"][0] <= log2_n <= bounds["log2_n"][1]
            and bounds["r"][0] <= r <= bounds["r"][1]
            and bounds["p"][0] <= p <= bounds["p"][1]
        ):
            raise _damaged(path, "invalid key derivation parameters in the header")
    elif kind != KIND_KEY_FILE:
        raise _damaged(path, f"unknown key kind {kind} in the header")
    return _Header(kind, log2_n, r, p, salt, key_id, nonce)


def _key_for_read(header: _Header, path: Path) -> tuple[bytes, object]:
    """The key the file says it needs, and an identifier of its source; checks the key id."""
    if header.kind == KIND_KEY_FILE:
        key, key_stamp = _read_key_file(path)
        if not hmac.compare_digest(_key_id(key), header.key_id):
            key_path = key_file_path(path)
            raise StorageError(
                f"The token keyring {path} cannot be decrypted with the key file {key_path}: "
                "that key file belongs to another keyring. Copy the key file that was created "
                "together with this keyring (on the machine where you logged in) to "
                f"{key_path}, or " + _move_aside(path) + "."
            )
        return key, key_stamp
    passphrase = _passphrase()
    if passphrase is None:
        raise StorageError(
            f"The token keyring {path} is protected by a passphrase. Set {PASSPHRASE_ENV} to "
            "the passphrase it was written with, or " + _move_aside(path) + "."
        )
    key = _derive_key(passphrase, header.salt, header.log2_n, header.r, header.p)
    if not hmac.compare_digest(_key_id(key), header.key_id):
        raise StorageError(
            f"{PASSPHRASE_ENV} is not the passphrase the token keyring {path} was written "
            "with. Set it to the right passphrase, or " + _move_aside(path) + "."
        )
    return key, _fingerprint(passphrase)


def _decrypt(raw: bytes, header: _Header, key: bytes, path: Path) -> Document:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(key).decrypt(header.nonce, raw[HEADER_SIZE:], raw[:HEADER_SIZE])
    except InvalidTag:
        raise _damaged(
            path, "the encrypted data fails its integrity check: truncated or modified"
        ) from None
    return _parse_plain(plain, path)


def _key_source_unchanged(snap: _Snapshot, path: str) -> bool:
    """Whether the key ``snap`` was decrypted with is still the one configured (cheap)."""
    if snap.kind == KIND_KEY_FILE:
        cached = _key_files.get(path)
        if cached is None or not cached.trusted or cached.key != snap.key:
            return False
        try:
            return _stamp(os.stat(path + ".key")) == cached.stamp
        except OSError:
            return False
    if snap.kind == KIND_PASSPHRASE:
        passphrase = _passphrase()
        return passphrase is not None and _fingerprint(passphrase) == snap.key_source
    return True


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
            if _stamp(st) == snap.stamp and _key_source_unchanged(snap, cache_key):
                return snap
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY | _O_CLOEXEC)
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
        raw = _read_fd(fd, st.st_size)
    finally:
        os.close(fd)
    trusted = _is_trusted(st)

    if not raw:
        # anaconda-auth 0.15 creates an empty file when it probes the path; nothing is lost.
        new = _Snapshot(_stamp(st), trusted, raw, KIND_PLAIN, None, None, None, {})
    elif raw[:1] != MAGIC[:1]:
        new = _Snapshot(
            _stamp(st), trusted, raw, KIND_PLAIN, None, None, None, _parse_plain(raw, path)
        )
    else:
        header = _parse_header(raw, path)
        key, key_source = _key_for_read(header, path)
        if snap is not None and snap.raw == raw and snap.key == key:
            new = replace(snap, stamp=_stamp(st), trusted=trusted, key_source=key_source)
        else:
            doc = _decrypt(raw, header, key, path)
            new = _Snapshot(_stamp(st), trusted, raw, header.kind, header, key_source, key, doc)
    _snapshots[cache_key] = new
    return new


# --------------------------------------------------------------------------------------------
# Writing


def _fsync_dir(directory: Path) -> None:
    if _WINDOWS:
        return  # directories cannot be opened for fsync on Windows; NTFS journals renames
    fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(target: Path, data: bytes, *, replace_existing: bool) -> os.stat_result:
    """Write ``data`` to ``target`` atomically and durably, mode 0600; the new file's stat."""
    directory = target.parent
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY | _O_CLOEXEC,
        stat.S_IRUSR | stat.S_IWUSR,
    )
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if replace_existing:
            _replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never clobbers a file someone else created
            except FileExistsError:
                raise
            except OSError:
                # No hard links on this file system: we hold the write lock, so check and move.
                if os.path.lexists(target):
                    raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
                _replace(tmp, target)
            else:
                os.unlink(tmp)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    return st


def _replace(src: Path, dst: Path) -> None:
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            # Windows refuses while another process has the file open; readers are brief.
            if not _WINDOWS or attempt == 19:
                raise
            time.sleep(0.05)


def _remove_stale_temp_files(path: Path) -> None:
    """Temp files left by a writer that died; safe to remove while we hold the lock."""
    prefixes = (f".{path.name}.", f".{key_file_path(path).name}.")
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".tmp") and name.startswith(prefixes):
                    with suppress(OSError):
                        os.unlink(entry.path)
    except OSError:
        pass


def _ensure_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(
            f"Cannot create the directory {directory} for the token keyring: {exc.strerror}. "
            "Create it (mode 0700) or set keyring_path to a writable location."
        ) from None
    if not directory.is_dir():
        raise StorageError(
            f"{directory} is not a directory, so the token keyring cannot be stored in it. "
            "Set keyring_path to a location in a directory."
        )
    if _WINDOWS or str(directory) in _warned_dirs:
        return
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        _warned_dirs.add(str(directory))
        log.warning(
            "The directory %s of the token keyring is writable by other users (mode %04o): "
            "they could replace or delete your keyring or its key. Run `chmod 700 %s`.",
            directory,
            mode,
            directory,
        )


@contextmanager
def _write_lock(path: Path) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock_path = lock_file_path(path)
    lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise StorageError(
            f"Timed out after {LOCK_TIMEOUT:g} s waiting for the lock file {lock_path}: "
            f"another process is writing the token keyring {path}. Try again; if this "
            f"persists, find the process holding it (for example `fuser {lock_path}`)."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot create the lock file {lock_path} for the token keyring {path}: "
            f"{exc.strerror}. Check that {path.parent} is writable."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _create_key_file(path: Path) -> bytes:
    key_path = key_file_path(path)
    key = secrets.token_bytes(KEY_SIZE)
    data = KEY_FILE_PREFIX + base64.urlsafe_b64encode(key) + b"\n"
    try:
        st = _write_private(key_path, data, replace_existing=False)
    except FileExistsError:
        return _read_key_file(path, fresh=True)[0]
    _key_files[os.fspath(path)] = _KeyFile(_stamp(st), False, key)
    log.debug("created the key file %s", key_path)
    return key


def _seal(doc: Document, header: _Header, key: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header_bytes = header.pack()
    plain = json.dumps(doc, separators=(",", ":")).encode("ascii")
    return header_bytes + AESGCM(key).encrypt(header.nonce, plain, header_bytes)


def _header_and_key(
    path: Path, current: _Snapshot, passphrase: str | None
) -> tuple[_Header, bytes]:
    """How to encrypt the next version: the configured key source, reusing what is loaded."""
    nonce = secrets.token_bytes(12)
    if passphrase is not None:
        old = current.header
        if (
            current.kind == KIND_PASSPHRASE
            and old is not None
            and current.key is not None
            and current.key_source == _fingerprint(passphrase)
        ):
            return replace(old, nonce=nonce), current.key
        salt = secrets.token_bytes(16)
        key = _derive_key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
        header = _Header(
            KIND_PASSPHRASE, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, _key_id(key), nonce
        )
        return header, key
    if current.kind == KIND_KEY_FILE and current.key is not None:
        key = current.key
    elif os.path.lexists(key_file_path(path)):
        key = _read_key_file(path, fresh=True)[0]
    else:
        key = _create_key_file(path)
    return _Header(KIND_KEY_FILE, 0, 0, 0, bytes(16), _key_id(key), nonce), key


def _update(path: Path, change: Callable[[Document], bool]) -> None:
    """Read, change and write back the keyring, all under the cross-process lock."""
    _ensure_directory(path.parent)
    with _write_lock(path):
        current = _load(path, fresh=True)
        doc = {service: dict(users) for service, users in current.doc.items()}
        passphrase = _passphrase()
        if not change(doc):
            if current.stamp is None:
                return  # nothing to remove from a keyring that does not exist
            wanted = KIND_PASSPHRASE if passphrase else KIND_KEY_FILE
            if current.kind == wanted and (
                passphrase is None or current.key_source == _fingerprint(passphrase)
            ):
                return  # already up to date: no needless write
        # A symlinked keyring (dotfiles, a mounted secret) is replaced where it points, so the
        # link survives; the key and lock files stay next to the configured path.
        target = Path(os.path.realpath(path)) if os.path.islink(path) else path
        _remove_stale_temp_files(target)
        try:
            header, key = _header_and_key(path, current, passphrase)
            data = _seal(doc, header, key)
            st = _write_private(target, data, replace_existing=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot write the token keyring {path}: {exc.strerror}. Check that "
                f"{target.parent} is writable and the disk is not full."
            ) from None
        key_source: object
        if passphrase is not None:
            key_source = _fingerprint(passphrase)
        else:
            key_source = _key_files[os.fspath(path)].stamp
        _snapshots[os.fspath(path)] = _Snapshot(
            _stamp(st), False, data, header.kind, header, key_source, key, doc
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
    of the operation in progress (``token_storage.current_config()``), resolved again for each
    operation, so a change of ``keyring_path`` is seen at once.
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
        differently (see ``token_storage``): the path, the stat of the file and of its key file
        (or the passphrase's fingerprint). ``None`` (do not remember the read) when the file is
        missing or was changed in the last two seconds (its stamp may not be unique yet)."""
        path = os.fspath(self.path)
        now = time.time_ns()
        try:
            st = os.stat(path)
        except OSError:
            return None
        file: object
        if now - st.st_mtime_ns < _RACY_NS:
            # perf: changed in the last two seconds, so the stat may not be unique yet: its
            # bytes are (was: None, which made every read in that window a full one)
            file = _content_stamp(path, st)
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
            if now - kst.st_mtime_ns < _RACY_NS:
                key = _content_stamp(path + ".key", kst)  # perf: as for the keyring itself
                if key is None:
                    return None
            else:
                key = (kst.st_dev, kst.st_ino, kst.st_mtime_ns, kst.st_ctime_ns, kst.st_size)
        passphrase = _passphrase()
        phrase = _fingerprint(passphrase) if passphrase is not None else None
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
