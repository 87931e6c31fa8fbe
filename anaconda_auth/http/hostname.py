"""The value of the ``X-Client-Hostname`` header.

By default the header carries a one-way digest of the machine's host name, never the name
itself: the service can count distinct machines without learning what they are called. The
digest is the one the existing anaconda-auth sends (BLAKE2b, 16-byte digest, personalised with
``b"hostname"``, no salt, URL-safe base64 without padding), so a machine keeps the same
identifier across the upgrade. ``hash_hostname = false`` sends the plain name instead.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from functools import lru_cache

log = logging.getLogger(__name__)

_PERSON = b"hostname"


def _raw_hostname() -> str:
    try:
        name = socket.gethostname()
    except OSError as exc:  # pragma: no cover - depends on the OS
        log.debug("socket.gethostname() failed: %s", exc)
        return ""
    # macOS appends ".local" to the Bonjour name; the existing client strips it.
    if name.endswith(".local"):
        name = name[: -len(".local")]
    return name


def hash_hostname(name: str) -> str:
    """The digest of ``name`` sent in ``X-Client-Hostname`` (22 URL-safe characters)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16, person=_PERSON).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=2)
def client_hostname(hashed: bool = True) -> str:
    """This machine's host name, hashed unless ``hashed`` is false (computed once per process).

    A plain name that is not Latin-1 (HTTP header values must be) is sent IDNA-encoded.
    """
    name = _raw_hostname()
    if hashed:
        return hash_hostname(name)
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        name = name.encode("idna").decode("ascii")
    return name
