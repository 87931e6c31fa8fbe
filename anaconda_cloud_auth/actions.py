"""Alias of :mod:`anaconda_auth.actions` (deprecated import name)."""

from anaconda_auth.actions import *  # noqa: F403
from anaconda_auth.actions import _do_auth_flow as _do_auth_flow
from anaconda_cloud_auth import warn

warn()
