"""Alias of :mod:`anaconda_auth.handlers` (deprecated import name)."""

from anaconda_auth.handlers import *  # noqa: F403
from anaconda_cloud_auth import warn

warn()
