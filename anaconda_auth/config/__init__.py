"""Configuration: the model, where its values come from, and the configured sites.

The public names of anaconda-auth 0.15 are importable from here (``AnacondaAuthConfig``,
``AnacondaAuthSite``, ``AnacondaAuthSitesConfig``, ``AnacondaCloudConfig``,
``OpenIDConfiguration``). They load on first use, so that the light modules of this room
(``constants``, ``files``, ``loader``, ``site_tables``) can be imported without pydantic.

Rooms: ``model`` (the pydantic model), ``loader`` (merging sources by rank), ``files``
(``config.toml`` and ``.env`` readers), ``site_tables`` and ``sites`` (``[sites.<name>]``),
``explain`` (values with their sources), ``memo`` (the memoised configuration), ``constants``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from anaconda_auth import plugin_types
from anaconda_auth.config.constants import (
    DEFAULT_CLIENT_ID,
    DEFAULT_DOMAIN,
    DEFAULT_SITE_ENV,
    ENV_PREFIX,
    FIELD_NAMES,
    MASK,
    NON_FIELD_KEYS,
    SOURCE_RANKS,
)

if TYPE_CHECKING:
    from anaconda_auth.config.constants import EXPECTED as EXPECTED
    from anaconda_auth.config.explain import ResolvedValue as ResolvedValue
    from anaconda_auth.config.explain import UnknownName as UnknownName
    from anaconda_auth.config.explain import explain as explain
    from anaconda_auth.config.explain import mask_value as mask_value
    from anaconda_auth.config.explain import unknown_keys as unknown_keys
    from anaconda_auth.config.explain import unknown_names as unknown_names
    from anaconda_auth.config.model import AnacondaAuthConfig as AnacondaAuthConfig
    from anaconda_auth.config.model import AnacondaAuthSite as AnacondaAuthSite
    from anaconda_auth.config.model import AnacondaCloudConfig as AnacondaCloudConfig
    from anaconda_auth.config.sites import AnacondaAuthSitesConfig as AnacondaAuthSitesConfig
    from anaconda_auth.config.sites import Sites as Sites
    from anaconda_auth.flows.discovery import OpenIDConfiguration as OpenIDConfiguration

#: Public names loaded on first use, and the module that defines each.
_LAZY = {
    "AnacondaAuthConfig": "anaconda_auth.config.model",
    "AnacondaAuthSite": "anaconda_auth.config.model",
    "AnacondaCloudConfig": "anaconda_auth.config.model",
    "EXPECTED": "anaconda_auth.config.constants",
    "AnacondaAuthSitesConfig": "anaconda_auth.config.sites",
    "Sites": "anaconda_auth.config.sites",
    "ResolvedValue": "anaconda_auth.config.explain",
    "explain": "anaconda_auth.config.explain",
    "mask_value": "anaconda_auth.config.explain",
    "unknown_keys": "anaconda_auth.config.explain",
    "unknown_names": "anaconda_auth.config.explain",
    "UnknownName": "anaconda_auth.config.explain",
    # the model of the provider's endpoints lives with discovery (0.15 exported it here)
    "OpenIDConfiguration": "anaconda_auth.flows.discovery",
}

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_DOMAIN",
    "DEFAULT_SITE_ENV",
    "ENV_PREFIX",
    "FIELD_NAMES",
    "MASK",
    "NON_FIELD_KEYS",
    "SOURCE_RANKS",
    *_LAZY,
]


def _default_config() -> AnacondaAuthSite:
    """``AnacondaAuthConfig()``: what storage backends get outside a storage operation."""
    from anaconda_auth.config.model import AnacondaAuthConfig  # pydantic, on first use

    return AnacondaAuthConfig()


plugin_types.set_default_config_factory(_default_config)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
