"""The value of the ``X-Client-Hostname`` header.

By default the header carries a one-way digest of the machine's host name, never the name
itself: the service can count distinct machines without learning what they are called. The
digest is the one the existing anaconda-auth sends (BLAKE2b, 16-byte digest, personalised with
``b"hostname"``, no salt, URL-safe base64 without padding), so a machine keeps the same
identifier across the upgrade. ``hash_hostname = false`` sends the plain name instead.

The name comes from :func:`anaconda_auth.utils.get_hostname` (0.15's helper), read each time a
client is built (a system call and a hash: microseconds), so replacing
``anaconda_auth.utils.gethostname`` takes effect as it did in 0.15.
"""

from __future__ import annotations

from anaconda_auth import utils


def hash_hostname(name: str) -> str:
    """The digest of ``name`` sent in ``X-Client-Hostname`` (22 URL-safe characters)."""
    return utils.hash_string("hostname", name)


def client_hostname(hashed: bool = True) -> str:
    """This machine's host name, hashed unless ``hashed`` is false.

    A plain name that is not Latin-1 (HTTP header values must be) is sent IDNA-encoded.
    """
    name = utils.get_hostname(hash=hashed)
    if hashed:
        return name
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        name = name.encode("idna").decode("ascii")
    return name
