"""Where the key of an ``anaconda-keyring`` file comes from: its key file or a passphrase.

Key files are cached by their stamp, so a warm read costs one ``stat()`` of the key file
instead of reading and parsing it; the cache belongs to the keyring path, not the key path.

The key file sits next to the keyring's real path (every symlink followed): a process that
reaches the keyring through a symlink and one that uses its real path share one key.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from anaconda_auth.storage_backends._keyring_files import (
    NotAFile,
    Stamp,
    is_trusted,
    make_private,
    open_regular,
    read_fd,
    real_path,
    stamp,
    write_private,
)
from anaconda_auth.storage_backends._keyring_format import (
    KEY_SIZE,
    KIND_KEY_FILE,
    KIND_PASSPHRASE,
    PASSPHRASE_ENV,
    Header,
    damaged,
    derive_key,
    encode_key_file,
    fingerprint,
    key_file_path,
    key_id_damaged,
    key_matches,
    move_aside,
    parse_key_file,
    passphrase,
)

from anaconda_auth.exceptions import StorageError

log = logging.getLogger("anaconda_auth.storage_backends.anaconda_keyring")


@dataclass(frozen=True)
class _KeyFile:
    stamp: Stamp
    trusted: bool
    key: bytes = field(repr=False)
    key_path: str = ""


def real_key_path(path: Path) -> Path:
    """The key file of the keyring at ``path``: next to its real path (symlinks followed)."""
    return key_file_path(real_path(path))


_key_paths: dict[str, tuple[int, int, str]] = {}


def real_key_path_of(path: str, st: os.stat_result) -> str:
    """:func:`real_key_path` for the keyring at ``path`` whose stat is ``st``, resolved once per
    version of the file: ``read_stamp`` runs on every request and must not follow symlinks
    every time."""
    known = _key_paths.get(path)
    if known is not None and known[0] == st.st_ino and known[1] == st.st_dev:
        return known[2]
    key_path = os.path.realpath(path) + ".key"
    if len(_key_paths) > 64:
        _key_paths.clear()
    _key_paths[path] = (st.st_ino, st.st_dev, key_path)
    return key_path


_key_files: dict[str, _KeyFile] = {}


def clear_key_files() -> None:
    _key_files.clear()
    _key_paths.clear()


def key_file_stamp(path: Path) -> Stamp:
    """The stamp of the key file last read or written for the keyring at ``path``."""
    return _key_files[os.fspath(path)].stamp


def read_key_file(path: Path, *, fresh: bool = False) -> tuple[bytes, Stamp]:
    """The key in the key file of ``path`` and the key file's stamp (cached by stamp)."""
    key_path = real_key_path(path)
    cache_key = os.fspath(path)
    try:
        fd, st = open_regular(key_path)
    except NotAFile as exc:
        raise StorageError(
            f"The key file {key_path} of the token keyring {path} is {exc.what}, not a key file; "
            "anaconda-auth will not read or replace it. Remove what is there and put the key "
            "file of this keyring in its place, or " + move_aside(path) + "."
        ) from None
    except FileNotFoundError:
        raise StorageError(
            f"The token keyring {path} is encrypted with the key file {key_path}, which does "
            f"not exist. If you copied the keyring from another machine, copy "
            f"{key_path.name} from the same directory there too (keep it private: "
            f"`chmod 600 {key_path}`). Otherwise " + move_aside(path) + "."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot read the key file {key_path} of the token keyring {path}: "
            f"{exc.strerror}. Check its owner and permissions (it should be yours, mode 0600)."
        ) from None
    try:
        cached = _key_files.get(cache_key)
        if (
            not fresh
            and cached is not None
            and cached.trusted
            and cached.stamp == stamp(st)
            and cached.key_path == os.fspath(key_path)
        ):
            return cached.key, cached.stamp
        try:
            raw = read_fd(fd, st.st_size)
        except NotAFile as exc:
            raise StorageError(
                f"The key file {key_path} of the token keyring {path} is {exc.what}: it is not "
                "a key file. Restore it, or " + move_aside(path) + "."
            ) from None
        make_private(fd, st, key_path)
    finally:
        os.close(fd)
    key = parse_key_file(raw, key_path, path)
    _key_files[cache_key] = _KeyFile(stamp(st), is_trusted(st), key, os.fspath(key_path))
    return key, stamp(st)


def create_key_file(path: Path) -> bytes:
    """A new random key in a new key file; the existing one if another process was first."""
    key = secrets.token_bytes(KEY_SIZE)
    key_path = real_key_path(path)
    try:
        st = write_private(key_path, encode_key_file(key), replace_existing=False)
    except FileExistsError:
        return read_key_file(path, fresh=True)[0]
    _key_files[os.fspath(path)] = _KeyFile(stamp(st), False, key, os.fspath(key_path))
    log.debug("created the key file %s", key_path)
    return key


def key_for_read(header: Header, path: Path, sealed: bytes) -> tuple[bytes, object]:
    """The key the file says it needs, and an identifier of its source; checks the key id.

    ``sealed`` is the sealed keyring the header belongs to: when the key id does not match but
    the key opens the keyring all the same, the header is damaged, not the key wrong.
    """
    if header.kind == KIND_KEY_FILE:
        key, key_stamp = read_key_file(path)
        if not key_matches(key, header):
            if key_id_damaged(sealed, header, key):
                raise damaged(path, "the key id in its header is damaged")
            key_path = real_key_path(path)
            raise StorageError(
                f"The token keyring {path} cannot be decrypted with the key file {key_path}: "
                "that key file belongs to another keyring. Copy the key file that was created "
                "together with this keyring (on the machine where you logged in) to "
                f"{key_path}, or " + move_aside(path) + "."
            )
        return key, key_stamp
    phrase = passphrase()
    if phrase is None:
        raise StorageError(
            f"The token keyring {path} is protected by a passphrase. Set {PASSPHRASE_ENV} to "
            "the passphrase it was written with, or " + move_aside(path) + "."
        )
    key = derive_key(phrase, header.salt, header.log2_n, header.r, header.p)
    if not key_matches(key, header):
        if key_id_damaged(sealed, header, key):
            raise damaged(path, "the key id in its header is damaged")
        raise StorageError(
            f"{PASSPHRASE_ENV} is not the passphrase the token keyring {path} was written "
            "with. Set it to the right passphrase, or " + move_aside(path) + "."
        )
    return key, fingerprint(phrase)


def key_source_unchanged(kind: int, key: bytes | None, key_source: object, path: str) -> bool:
    """Whether the key a file was decrypted with is still the one configured (cheap)."""
    if kind == KIND_KEY_FILE:
        cached = _key_files.get(path)
        if cached is None or not cached.trusted or cached.key != key:
            return False
        try:
            return stamp(os.stat(cached.key_path)) == cached.stamp
        except OSError:
            return False
    if kind == KIND_PASSPHRASE:
        phrase = passphrase()
        return phrase is not None and fingerprint(phrase) == key_source
    return True
