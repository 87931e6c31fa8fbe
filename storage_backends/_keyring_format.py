"""The ``anaconda-keyring`` file format: header, keys and AES-256-GCM; no file system state.

The file is a JSON document of the shape anaconda-auth 0.15 reads and writes,
``{service: {username: value}}``, so that 0.15, installed in another environment of the same
home directory, can parse it (see docs/dev/decisions/0028-keyring-file-shared-with-0-15.md)::

    {"anaconda-auth encrypted keyring": {"v1": "<base64 of the sealed keyring>"},
     "Anaconda Cloud": {"anaconda.com": "<a token 0.15 saved since>"}}

The entry :data:`ENVELOPE_SERVICE` / :data:`ENVELOPE_ENTRY` holds the encrypted keyring; 0.15
never asks for that service, and keeps the entry when it rewrites the file (it loads the whole
document, sets one entry and dumps the whole document). Every other entry is plaintext that
0.15 (or another program using 0.15's keyring backend) wrote; it is newer than the encrypted
copy of the same entry, because this package removes the plaintext copy of every entry it
writes (see the ``anaconda_keyring`` module for when plaintext entries are absorbed).

Files written before that, still on disk, are the sealed keyring alone (starting with the
magic byte 0x81); they are read and replaced by the JSON form on the next write. A sealed
keyring (``seal``) holds one JSON document ``{service: {username: value}}`` encrypted with
AES-256-GCM. Layout (all integers big-endian)::

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
reads the path as JSON text, fails loudly on a bare sealed file (the form written before the
JSON envelope) instead of treating it as empty and overwriting it.

``cryptography`` is imported inside the functions that need it, so importing the backend stays
cheap for a process whose token comes from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from anaconda_auth.exceptions import StorageError

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
TAG_SIZE = 16
NONCE_SIZE = 12
SALT_SIZE = 16
KEY_SIZE = 32
KEY_FILE_PREFIX = b"anaconda-keyring-key-v1:"
_KEY_ID_LABEL = b"anaconda-keyring key id"

#: scrypt cost for new passphrase-protected files (about 32 MiB and 0.1-0.3 s, once per process).
SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
# Bounds accepted when reading a header, so a crafted file cannot ask for gigabytes.
_SCRYPT_LIMITS = {"log2_n": (10, 20), "r": (1, 16), "p": (1, 4)}
#: scrypt needs 128 * r * N bytes: at most 256 MiB (new files use 32 MiB).
_SCRYPT_MAX_MEMORY = 256 << 20

#: The entry of the JSON file that holds the sealed keyring (base64): a service name 0.15 never
#: looks up. A different user name under it means a newer format.
ENVELOPE_SERVICE = "anaconda-auth encrypted keyring"
ENVELOPE_ENTRY = "v1"

_derived_keys: dict[tuple[bytes, bytes, int, int, int], bytes] = {}


def key_file_path(path: Path) -> Path:
    """The key file that goes with the keyring at ``path``."""
    return Path(os.fspath(path) + ".key")


def move_aside(path: Path) -> str:
    """The last-resort remedy every error message ends with."""
    return (
        f"move it aside (for example `mv {path} {path}.broken`) and log in again with "
        "`anaconda login`"
    )


def damaged(path: Path, what: str) -> StorageError:
    return StorageError(
        f"The token keyring {path} is damaged ({what}); anaconda-auth will not read or "
        "overwrite it. Restore it from a backup, or " + move_aside(path) + "."
    )


@dataclass(frozen=True)
class Header:
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


# --------------------------------------------------------------------------------------------
# Keys


#: os.environ's own mapping and its encoded key for PASSPHRASE_ENV (CPython details): looked up
#: on every read_stamp, i.e. every client request, where ``os.environ.get`` of an unset variable
#: costs ~0.7 µs (it raises KeyError inside).
_ENV_DATA: Any = getattr(os.environ, "_data", None)
_PASSPHRASE_KEY: Any = None
if _ENV_DATA is not None:
    try:
        _PASSPHRASE_KEY = os.environ.encodekey(PASSPHRASE_ENV)
    except AttributeError:
        _ENV_DATA = None


def passphrase() -> str | None:
    """The configured passphrase (``None`` when unset or empty)."""
    if _ENV_DATA is not None:
        raw = _ENV_DATA.get(_PASSPHRASE_KEY)
        return os.environ.decodevalue(raw) if raw else None
    return os.environ.get(PASSPHRASE_ENV) or None


def fingerprint(passphrase: str) -> bytes:
    """An in-memory identifier for a passphrase (cache keys only; never written anywhere)."""
    return hashlib.sha256(b"anaconda-keyring passphrase\0" + passphrase.encode()).digest()


def key_id(key: bytes) -> bytes:
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:8]


def key_matches(key: bytes, header: Header) -> bool:
    return hmac.compare_digest(key_id(key), header.key_id)


def encode_key_file(key: bytes) -> bytes:
    return KEY_FILE_PREFIX + base64.urlsafe_b64encode(key) + b"\n"


def parse_key_file(raw: bytes, key_path: Path, path: Path) -> bytes:
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


def derive_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    """scrypt, cached per process: a passphrase costs its derivation once, not once a read."""
    cache_key = (fingerprint(passphrase), salt, log2_n, r, p)
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


def clear_derived_keys() -> None:
    _derived_keys.clear()


def new_passphrase_header(passphrase: str, nonce: bytes) -> tuple[Header, bytes]:
    """A header with a fresh salt at today's scrypt cost, and the key it names."""
    import secrets

    salt = secrets.token_bytes(SALT_SIZE)
    key = derive_key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    header = Header(KIND_PASSPHRASE, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, key_id(key), nonce)
    return header, key


def key_file_header(key: bytes, nonce: bytes) -> Header:
    return Header(KIND_KEY_FILE, 0, 0, 0, bytes(SALT_SIZE), key_id(key), nonce)


# --------------------------------------------------------------------------------------------
# Documents


def is_encrypted(raw: bytes) -> bool:
    """Whether ``raw`` claims to be an encrypted keyring (else it is 0.15's plaintext JSON)."""
    return raw[:1] == MAGIC[:1]


def parse_plain(raw: bytes, path: Path) -> Document:
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise damaged(path, "it is neither an encrypted keyring nor a JSON document") from None
    except RecursionError:
        raise damaged(path, "its JSON document is nested too deep to be a keyring") from None
    if not isinstance(doc, dict) or not all(
        isinstance(s, str)
        and isinstance(users, dict)
        and all(isinstance(u, str) and isinstance(v, str) for u, v in users.items())
        for s, users in doc.items()
    ):
        raise damaged(path, "the JSON document is not {service: {username: value}}")
    return doc


def parse_header(raw: bytes, path: Path) -> Header:
    if len(raw) < HEADER_SIZE + TAG_SIZE or not raw.startswith(MAGIC):
        raise damaged(path, "the file is truncated or not an anaconda-keyring file")
    _, version, kind, log2_n, r, p, salt, kid, nonce = _HEADER.unpack_from(raw)
    if version == 0:
        raise damaged(path, "format version 0 in the header, which no anaconda-auth writes")
    if version != FORMAT_VERSION:
        raise StorageError(
            f"The token keyring {path} has format version {version}, written by a newer "
            "anaconda-auth than this one (which reads version "
            f"{FORMAT_VERSION}). Upgrade anaconda-auth, or " + move_aside(path) + "."
        )
    if kind == KIND_PASSPHRASE:
        bounds = _SCRYPT_LIMITS
        if not (
            bounds["log2_n"][0] <= log2_n <= bounds["log2_n"][1]
            and bounds["r"][0] <= r <= bounds["r"][1]
            and bounds["p"][0] <= p <= bounds["p"][1]
            and 128 * r * (1 << log2_n) <= _SCRYPT_MAX_MEMORY
        ):
            raise damaged(path, "invalid key derivation parameters in the header")
    elif kind == KIND_KEY_FILE:
        if log2_n or r or p or any(salt):
            # Zero in every file encrypted with a key file: a damaged header, whatever the key.
            raise damaged(path, "stray key derivation parameters in its header")
    else:
        raise damaged(path, f"unknown key kind {kind} in the header")
    return Header(kind, log2_n, r, p, salt, kid, nonce)


def decrypt(raw: bytes, header: Header, key: bytes, path: Path) -> Document:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(key).decrypt(header.nonce, raw[HEADER_SIZE:], raw[:HEADER_SIZE])
    except InvalidTag:
        raise damaged(
            path, "the encrypted data fails its integrity check: truncated or modified"
        ) from None
    return parse_plain(plain, path)


def key_id_damaged(raw: bytes, header: Header, key: bytes) -> bool:
    """Whether ``key``, whose id is not the one in the header, opens the sealed keyring ``raw``
    once the header carries its id: then the header's key id is damaged, the key is right."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    fixed = replace(header, key_id=key_id(key)).pack()
    try:
        AESGCM(key).decrypt(header.nonce, raw[HEADER_SIZE:], fixed)
    except (InvalidTag, ValueError):
        return False
    return True


def seal(doc: Document, header: Header, key: bytes) -> bytes:
    """The complete file content for ``doc``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header_bytes = header.pack()
    plain = json.dumps(doc, separators=(",", ":")).encode("ascii")
    return header_bytes + AESGCM(key).encrypt(header.nonce, plain, header_bytes)


def overlay(lower: Document, upper: Document) -> Document:
    """``lower`` with every entry of ``upper`` set over it (new dictionaries)."""
    doc = {service: dict(users) for service, users in lower.items()}
    for service, users in upper.items():
        doc.setdefault(service, {}).update(users)
    return doc


def split_envelope(doc: Document, path: Path) -> tuple[bytes | None, Document]:
    """The sealed keyring in a JSON document (``None`` if it has none) and its other entries."""
    entry = doc.get(ENVELOPE_SERVICE)
    if entry is None:
        return None, doc
    rest = {service: users for service, users in doc.items() if service != ENVELOPE_SERVICE}
    newer = sorted(set(entry) - {ENVELOPE_ENTRY})
    if newer:
        raise StorageError(
            f"The token keyring {path} holds an encrypted keyring in a format this "
            f"anaconda-auth does not know ({ENVELOPE_SERVICE!r}: {newer[0]!r}), written by a "
            "newer anaconda-auth. Upgrade anaconda-auth, or " + move_aside(path) + "."
        )
    if ENVELOPE_ENTRY not in entry:
        raise damaged(path, f"the entry {ENVELOPE_SERVICE!r} holds no encrypted keyring")
    try:
        blob = base64.b64decode(entry[ENVELOPE_ENTRY], validate=True)
    except (binascii.Error, ValueError):
        raise damaged(path, "the encrypted keyring in the JSON file is not base64") from None
    return blob, rest


def envelope(blob: bytes, plain: Document) -> bytes:
    """The file content: the sealed keyring ``blob`` under :data:`ENVELOPE_SERVICE`, then the
    plaintext entries kept for 0.15 (see the module docstring)."""
    doc: dict[str, dict[str, str]] = {
        ENVELOPE_SERVICE: {ENVELOPE_ENTRY: base64.b64encode(blob).decode("ascii")}
    }
    for service, users in plain.items():
        if users:
            doc[service] = dict(users)
    # ASCII only, as json.dump writes it: 0.15 reads the file in the locale's encoding.
    return json.dumps(doc).encode("ascii") + b"\n"
