"""Alias of :mod:`anaconda_auth.client` (deprecated import name).

``AnacondaCloudConfig`` and ``TokenInfo`` are here too, as in 0.15 (Navigator imported them
from this module).
"""

from anaconda_auth.client import *  # noqa: F403
from anaconda_auth.config import AnacondaCloudConfig as AnacondaCloudConfig
from anaconda_auth.token import TokenInfo as TokenInfo
from anaconda_cloud_auth import warn

warn()
