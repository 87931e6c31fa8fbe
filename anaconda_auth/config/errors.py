"""The configuration's errors, built where they are raised.

anaconda-cli-base reads the sites of ``config.toml`` at every start of ``anaconda``; on that
path only the configuration modules load. :mod:`anaconda_auth.exceptions` is imported by the
first error, not before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anaconda_auth.exceptions import ConfigError, UnknownSiteName


def config_error(message: str) -> ConfigError:
    from anaconda_auth.exceptions import ConfigError

    return ConfigError(message)


def unknown_site(message: str) -> UnknownSiteName:
    from anaconda_auth.exceptions import UnknownSiteName

    return UnknownSiteName(message)
