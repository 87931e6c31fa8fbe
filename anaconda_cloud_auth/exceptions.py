"""Alias of :mod:`anaconda_auth.exceptions` (deprecated import name)."""

from anaconda_auth.exceptions import *  # noqa: F403
from anaconda_cloud_auth import warn

warn()
