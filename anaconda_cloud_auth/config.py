"""Alias of :mod:`anaconda_auth.config`'s ``AnacondaCloudConfig`` (deprecated import name)."""

from anaconda_auth import __version__
from anaconda_auth.config import AnacondaCloudConfig as AnacondaCloudConfig
from anaconda_cloud_auth import warn

#: The ``User-Agent`` of the ``anaconda-cloud-auth`` era, as 0.15 exported it here.
OIDC_REQUEST_HEADERS = {"User-Agent": f"anaconda-cloud-auth/{__version__}"}

warn()
