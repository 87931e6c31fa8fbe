"""0.15's ``anaconda_auth.utils``: the machine's host name and the salted digest it is sent as.

``hash_string("hostname", name)`` is the value of the ``X-Client-Hostname`` header
(:mod:`anaconda_auth.http.hostname`): BLAKE2b, 16-byte digest, personalised with ``what``,
salted with the first 16 bytes of ``pepper``, URL-safe base64 without padding.

The host name is read with this module's ``gethostname`` (``socket.gethostname``), looked up
on each call: replacing ``anaconda_auth.utils.gethostname`` (as 0.15's tests do) changes the
header of every client built afterwards. Only the standard library is imported here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from socket import gethostname

__all__ = ["get_hostname", "gethostname", "hash_string"]

log = logging.getLogger(__name__)


def _raw_hostname() -> str:
    """This machine's host name with macOS's ``.local`` suffix removed; ``""`` if unknown."""
    try:
        name = gethostname()
    except Exception as exc:  # pragma: no cover - depends on the OS
        log.debug("gethostname() failed: %s", exc)
        return ""
    if not name:
        return ""
    # macOS appends ".local" to the Bonjour name; 0.15 strips it.
    if name.endswith(".local"):
        name = name[: -len(".local")]
    return name


def get_hostname(hash: bool = False, pepper: str | bytes | None = None) -> str:  # noqa: A002
    """This machine's host name (``.local`` removed), or its digest when ``hash`` is true."""
    name = _raw_hostname()
    return hash_string("hostname", name, pepper) if hash else name


def hash_string(what: str, s: str, pepper: str | bytes | None = None) -> str:
    """A one-way digest of ``s`` for the purpose ``what`` (22 URL-safe characters)."""
    salt = pepper.encode("utf-8") if isinstance(pepper, str) else (pepper or b"")
    digest = hashlib.blake2b(
        s.encode("utf-8"),
        digest_size=16,
        person=what.encode("utf-8"),
        salt=salt[: hashlib.blake2b.SALT_SIZE],
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
