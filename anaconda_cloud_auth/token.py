"""Alias of :mod:`anaconda_auth.token` (deprecated import name)."""

from anaconda_auth.token import *  # noqa: F403
from anaconda_cloud_auth import warn

warn()
