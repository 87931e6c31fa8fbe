"""Private files written atomically and durably, under a cross-process lock.

Used by the ``anaconda-keyring`` backend for the keyring and its key file: a temporary file in
the same directory, fsync, ``os.replace`` (or a hard link, which never clobbers a file another
process created), fsync of the directory. Readers take no lock; they always see a complete old
or new file. ``filelock`` is imported when a write needs it, not at import time.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

from anaconda_auth.storage_backends._keyring_format import Document, is_encrypted, parse_plain

from anaconda_auth.exceptions import StorageError
from anaconda_auth.freshness import RACY_NS as RACY_NS
from anaconda_auth.freshness import is_racy

log = logging.getLogger("anaconda_auth.storage_backends.anaconda_keyring")

Stamp = tuple[int, int, int]

O_BINARY: int = getattr(os, "O_BINARY", 0)
O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
#: Opening a named pipe for reading waits for a writer; with O_NONBLOCK it returns at once (and
#: changes nothing for a regular file).
O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
WINDOWS = sys.platform == "win32"

#: The largest keyring or key file read (a keyring holds a few KiB): a path pointing at
#: something else (``/dev/zero``, a disk image) fails at once instead of filling the memory.
MAX_FILE_SIZE = 16 << 20
MAX_FILE_SIZE_TEXT = "16 MiB"

#: How a temporary file is named next to the file it replaces: ``.<name>.<12 hex>.tmp``.
_TEMP_SUFFIX_LEN = 1 + 12 + 4

_warned_dirs: set[str] = set()


def lock_file_path(path: Path) -> Path:
    return Path(os.fspath(path) + ".lock")


def real_path(path: Path) -> Path:
    """The file ``path`` names once every symbolic link is followed (as far as it exists).

    The lock, the key file and the temporary files belong to this path, so that processes
    reaching one keyring through a symlink and through its real path share them.
    """
    return Path(os.path.realpath(path))


class NotAFile(Exception):
    """What is at a path is not a regular file of a sensible size; ``what`` says what it is."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: "a directory", "a named pipe (FIFO)", ..."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def too_large(size: int) -> str:
    return f"{size} bytes, more than the {MAX_FILE_SIZE_TEXT} a keyring file can be"


def check_regular(st: os.stat_result) -> None:
    """Raise :class:`NotAFile` unless ``st`` is a regular file of at most MAX_FILE_SIZE."""
    if not stat.S_ISREG(st.st_mode):
        raise NotAFile(file_kind(st.st_mode))
    if st.st_size > MAX_FILE_SIZE:
        raise NotAFile(too_large(st.st_size))


def open_regular(path: Path | str) -> tuple[int, os.stat_result]:
    """Open a file for reading without ever blocking; its descriptor and stat.

    Raises :class:`NotAFile` for a directory, a named pipe, a device (``/dev/zero``), a socket
    or a file larger than :data:`MAX_FILE_SIZE`; :class:`OSError` (``FileNotFoundError``, ...)
    as ``os.open`` does.
    """
    try:
        fd = os.open(path, os.O_RDONLY | O_NONBLOCK | O_BINARY | O_CLOEXEC)
    except IsADirectoryError:
        raise NotAFile("a directory") from None
    try:
        st = os.fstat(fd)
        check_regular(st)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def is_trusted(st: os.stat_result) -> bool:
    """Whether the stamp alone identifies the content (the file is not racily clean)."""
    return not is_racy(st.st_mtime_ns)


#: The largest file :func:`content_stamp` reads (a keyring holds a few KiB).
CONTENT_STAMP_MAX = 1 << 20


def content_stamp(path: str, st: os.stat_result) -> tuple[str, int, bytes] | None:
    """A file's mode and bytes: the stamp of a file changed in the last two seconds, whose stat
    a later change within the file system's timestamp granularity could keep. One read of a
    small file, far cheaper than the full read and decryption a missing stamp causes. ``None``
    when it cannot be read or is large."""
    if st.st_size > CONTENT_STAMP_MAX:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        fd, _ = open_regular(path)
    except (OSError, NotAFile):
        return None
    try:
        data = read_fd(fd, st.st_size)
    except (OSError, NotAFile):
        return None
    finally:
        os.close(fd)
    if len(data) > CONTENT_STAMP_MAX:
        return None
    return ("content", st.st_mode, data)


def read_fd(fd: int, size: int) -> bytes:
    """Everything left in ``fd`` (``size`` is a hint: the file may have grown); raises
    :class:`NotAFile` past :data:`MAX_FILE_SIZE` bytes."""
    chunks: list[bytes] = []
    remaining = max(size, 0)
    total = 0
    while True:
        chunk = os.read(fd, max(remaining, 65536))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        remaining -= len(chunk)
        total += len(chunk)
        if total > MAX_FILE_SIZE:
            raise NotAFile(too_large(total))


def make_private(fd: int, st: os.stat_result, key_path: Path) -> None:
    """Tighten a key file others can read (``scp`` without ``-p`` creates it 0644)."""
    if WINDOWS or not stat.S_IMODE(st.st_mode) & 0o077:
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


def _fsync_dir(directory: Path) -> None:
    if WINDOWS:
        return  # directories cannot be opened for fsync on Windows; NTFS journals renames
    fd = os.open(directory, os.O_RDONLY | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(src: Path, dst: Path) -> None:
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            # Windows refuses while another process has the file open; readers are brief.
            if not WINDOWS or attempt == 19:
                raise
            time.sleep(0.05)


class FileChanged(Exception):
    """The file was changed by a writer that does not take the lock (anaconda-auth 0.15)."""


def _check_unchanged(target: Path, expected: bytes | None) -> None:
    """Raise :class:`FileChanged` unless ``target`` holds ``expected`` (``None``: no file)."""
    try:
        fd, st = open_regular(target)
    except FileNotFoundError:
        if expected is None:
            return
        raise FileChanged from None
    except NotAFile:
        raise FileChanged from None  # the next attempt reads it and says what it is
    try:
        now = read_fd(fd, st.st_size)
    except NotAFile:
        raise FileChanged from None
    finally:
        os.close(fd)
    if now != expected:
        raise FileChanged


def temp_name(name: str) -> str:
    """A fresh temporary file name for replacing the file ``name`` (see :func:`is_temp_of`)."""
    return f".{name}.{secrets.token_hex(6)}.tmp"


def is_temp_of(entry: str, name: str) -> bool:
    """Whether ``entry`` is named as :func:`temp_name` names the temporary files of ``name``
    (and of no other file: ``.keyring.backup.<hex>.tmp`` is not one of ``keyring``'s)."""
    if len(entry) != len(name) + 1 + _TEMP_SUFFIX_LEN or not entry.endswith(".tmp"):
        return False
    if not entry.startswith(f".{name}."):
        return False
    digits = entry[len(name) + 2 : -4]
    return all(c in "0123456789abcdef" for c in digits)


def _hold(fd: int) -> None:
    """Lock a temporary file while it is written, so no sweep takes it for a dead writer's."""
    if WINDOWS:
        return  # a file open on Windows cannot be deleted anyway
    import fcntl

    with suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def write_private(
    target: Path,
    data: bytes,
    *,
    replace_existing: bool,
    expected: bytes | None | Literal[False] = False,
) -> os.stat_result:
    """Write ``data`` to ``target`` atomically and durably, mode 0600; the new file's stat.

    Without ``replace_existing`` an existing ``target`` is left alone and
    :class:`FileExistsError` raised (two processes creating the same key file). With
    ``expected`` (the bytes read under the lock, ``None`` for no file) the file is checked
    again just before it is replaced: a program that writes it without taking the lock
    (anaconda-auth 0.15 rewrites it in place) makes this raise :class:`FileChanged`, so the
    caller reads its change and tries again instead of losing it.

    The temporary file is locked (``flock``) until it has been moved into place, so
    :func:`remove_stale_temp_files` of another writer leaves it alone.
    """
    directory = target.parent
    tmp = directory / temp_name(target.name)
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY | O_CLOEXEC,
        stat.S_IRUSR | stat.S_IWUSR,
    )
    closed = False
    try:
        try:
            _hold(fd)
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            if WINDOWS:  # Windows cannot rename an open file
                os.close(fd)
                closed = True
        if replace_existing:
            if expected is not False:
                _check_unchanged(target, expected)
            _replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
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
    finally:
        if not closed:
            os.close(fd)
    _fsync_dir(directory)
    return st


def remove_stale_temp_files(directory: Path, names: tuple[str, ...]) -> None:
    """Remove the temporary files of ``names`` that writers which died left behind.

    A temporary file some live writer still holds (its ``flock``) is left alone: a writer that
    reaches the same directory another way (a bind mount, a hard link, an older version locking
    elsewhere) may be writing it right now.
    """
    try:
        with os.scandir(directory) as entries:
            stale = [
                entry.path
                for entry in entries
                if entry.name.endswith(".tmp") and any(is_temp_of(entry.name, n) for n in names)
            ]
    except OSError:
        return
    for path in stale:
        _remove_if_dead(path)


def _remove_if_dead(path: str) -> None:
    if WINDOWS:
        with suppress(OSError):
            os.unlink(path)  # refused while its writer has it open
        return
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
    except OSError:
        with suppress(OSError):
            if not stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)  # not a file any writer of ours made
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a live writer holds it
        with suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


def probe_directory(directory: Path, name: str) -> None:
    """Prove that a file can be created in ``directory``: create a temporary file named like
    those of ``name`` and remove it at once. Raises :class:`OSError` when it cannot."""
    tmp = directory / temp_name(name)
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY | O_CLOEXEC,
        stat.S_IRUSR | stat.S_IWUSR,
    )
    os.close(fd)
    with suppress(FileNotFoundError):  # a writer's sweep may have taken it already
        os.unlink(tmp)


def ensure_directory(directory: Path) -> None:
    """Create the keyring's directory (0700), or warn once when others may write to it."""
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
    if WINDOWS or str(directory) in _warned_dirs:
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
def write_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold ``<path>.lock`` (created 0600), waiting at most ``timeout`` seconds for it."""
    from filelock import FileLock, Timeout

    lock_path = lock_file_path(path)
    lock = FileLock(str(lock_path), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise StorageError(
            f"Timed out after {timeout:g} s waiting for the lock file {lock_path}: "
            f"another process is writing the token keyring {path}. Try again; if this "
            f"persists, find the process holding it (for example `fuser {lock_path}`)."
        ) from None
    except IsADirectoryError:
        raise StorageError(
            f"The lock file {lock_path} of the token keyring {path} is a directory, so the "
            "keyring cannot be written. Remove that directory (anaconda-auth creates the lock "
            "file itself)."
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


# --------------------------------------------------------------------------------------------
# Reading the keyring file

#: Pauses (seconds) before reading again a file modified a moment ago that is empty or not
#: JSON: anaconda-auth 0.15 truncates the file and then writes it, without a lock.
SETTLE_DELAYS = (0.002, 0.01, 0.03)


def _not_a_keyring(path: Path, what: str) -> StorageError:
    if what == "a directory":
        return StorageError(
            f"The token keyring path {path} is a directory. Set keyring_path to a file name."
        )
    return StorageError(
        f"The token keyring path {path} is {what}, not a keyring file; anaconda-auth will not "
        "read or replace it. Set keyring_path to a file name, or remove what is there."
    )


def read_raw(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The bytes and stat of the file at ``path``; ``None`` when there is none.

    Only a regular file is read (never blocking on a named pipe), and at most
    :data:`MAX_FILE_SIZE` bytes of it (``/dev/zero`` would never end).
    """
    try:
        fd, st = open_regular(path)
    except FileNotFoundError:
        return None
    except NotAFile as exc:
        raise _not_a_keyring(path, exc.what) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot read the token keyring {path}: {exc.strerror}. Check its owner and "
            "permissions (it should be yours, mode 0600)."
        ) from None
    try:
        raw = read_fd(fd, st.st_size)
    except NotAFile as exc:
        raise _not_a_keyring(path, exc.what) from None
    finally:
        os.close(fd)
    return raw, st


def read_settled(path: Path) -> tuple[bytes, os.stat_result, Document | None] | None:
    """The file's bytes, stat and JSON document (``None`` for a bare sealed keyring).

    An empty or unparsable file modified a moment ago may be anaconda-auth 0.15 writing it in
    place: it is read again after a short pause (see :data:`SETTLE_DELAYS`). A file that stays
    unparsable is an error; one that stays empty is an empty keyring (0.15 creates an empty
    file when it probes the path).
    """
    for delay in (*SETTLE_DELAYS, None):
        got = read_raw(path)
        if got is None:
            return None
        raw, st = got
        if raw and is_encrypted(raw):
            return raw, st, None
        settling = delay is not None and is_racy(st.st_mtime_ns)
        if not raw:
            if not settling:
                return raw, st, {}
        else:
            try:
                return raw, st, parse_plain(raw, path)
            except StorageError:
                if not settling:
                    raise
        assert delay is not None
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
