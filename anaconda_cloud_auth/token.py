"""Alias of :mod:`anaconda_auth.token` (deprecated import name)."""

from anaconda_auth.token import *  # noqa: F403
from anaconda_cloud_auth import warn

warn()


def __getattr__(name: str) -> object:
    """The names ``anaconda_auth.token`` defines on first access (0.15's keyring backends)."""
    import anaconda_auth.token

    return getattr(anaconda_auth.token, name)
