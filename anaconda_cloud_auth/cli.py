"""Alias of :mod:`anaconda_auth.cli` (deprecated import name)."""

from anaconda_auth.cli import app as app
from anaconda_cloud_auth import warn

__all__ = ["app"]

warn()
