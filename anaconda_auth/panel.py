"""The Panel OAuth provider under its anaconda-auth 0.15 module name.

It lives in :mod:`anaconda_auth.plugins.panel` (the ``panel.auth`` entry point). Every name is
forwarded on first use, so importing this module does not import Panel: Panel loads its
``panel.auth`` entry points while ``panel.auth`` itself is being imported, and a top-level
import of it here would break whichever import came first.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnacondaLoginHandler",  # noqa: F822 (forwarded by __getattr__)
    "DiscoveryError",  # noqa: F822 (forwarded by __getattr__)
    "OIDCEndpoints",  # noqa: F822 (forwarded by __getattr__)
    "discover",  # noqa: F822 (forwarded by __getattr__)
    "discover_sync",  # noqa: F822 (forwarded by __getattr__)
    "logout_url",  # noqa: F822 (forwarded by __getattr__)
]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from anaconda_auth.plugins import panel

    return getattr(panel, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
