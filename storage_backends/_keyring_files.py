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

from anaconda_auth.exceptions import StorageError
from anaconda_auth.freshness import RACY_NS as RACY_NS
from anaconda_auth.freshness import is_racy

log = logging.getLogger("anaconda_auth.storage_backends.anaconda_keyring")

Stamp = tuple[int, int, int]

O_BINARY: int = getattr(os, "O_BINARY", 0)
O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
WINDOWS = sys.platform == "win32"

_warned_dirs: set[str] = set()


def lock_file_path(path: Path) -> Path:
    return Path(os.fspath(path) + ".lock")


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
    try:
        fd = os.open(path, os.O_RDONLY | O_BINARY | O_CLOEXEC)
    except OSError:
        return None
    try:
        data = read_fd(fd, st.st_size)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > CONTENT_STAMP_MAX:
        return None
    return ("content", st.st_mode, data)


def read_fd(fd: int, size: int) -> bytes:
    """Everything left in ``fd`` (``size`` is a hint: the file may have grown)."""
    chunks: list[bytes] = []
    remaining = max(size, 0)
    while True:
        chunk = os.read(fd, max(remaining, 65536))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        remaining -= len(chunk)


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
        fd = os.open(target, os.O_RDONLY | O_BINARY | O_CLOEXEC)
    except FileNotFoundError:
        if expected is None:
            return
        raise FileChanged from None
    try:
        now = read_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    if now != expected:
        raise FileChanged


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
    """
    directory = target.parent
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY | O_CLOEXEC,
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
    _fsync_dir(directory)
    return st


def remove_stale_temp_files(directory: Path, names: tuple[str, ...]) -> None:
    """Temp files of ``names`` left by a writer that died; safe to remove under the lock."""
    prefixes = tuple(f".{name}." for name in names)
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".tmp") and name.startswith(prefixes):
                    with suppress(OSError):
                        os.unlink(entry.path)
    except OSError:
        pass


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
    except OSError as exc:
        raise StorageError(
            f"Cannot create the lock file {lock_path} for the token keyring {path}: "
            f"{exc.strerror}. Check that {path.parent} is writable."
        ) from None
    try:
        yield
    finally:
        lock.release()
