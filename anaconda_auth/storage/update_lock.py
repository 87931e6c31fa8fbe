"""One lock for read-modify-write updates of a stored :class:`~anaconda_auth.token.TokenInfo`.

Each save is atomic in the storage layer, but a login (new API key, repository tokens kept) and
``anaconda token install`` (a repository token added) both load the entry, change it and save
it. Run at the same moment in two processes, the later save would drop the other's change. Both
hold this per-user lock around the load and the save.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

#: Long enough for a slow disk, short enough that a stuck process is reported.
LOCK_TIMEOUT = 120.0


@contextmanager
def token_update_lock() -> Iterator[None]:
    """Hold the per-user token-update lock (beside ``config.toml``, mode 0600).

    Without a home directory (and without ``$ANACONDA_CONFIG_TOML``) there is no per-user place
    for it: the update runs unlocked, as each save is still atomic.
    """
    from filelock import FileLock

    from anaconda_auth.config.files import find_config_toml

    path = find_config_toml()
    if path is None:
        log.debug("no home directory: updating the stored token without the update lock")
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / ".repo-tokens.lock"), timeout=LOCK_TIMEOUT, mode=0o600):
        yield
