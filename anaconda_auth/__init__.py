"""anaconda-auth: log in to Anaconda and make authenticated requests.

The heavy parts load on first use, so ``import anaconda_auth`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anaconda_auth._version import __version__

if TYPE_CHECKING:
    from anaconda_auth.actions import login, logout
    from anaconda_auth.client import client_factory
    from anaconda_auth.hookspecs import hookimpl

__all__ = ["__version__", "client_factory", "hookimpl", "login", "logout"]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in ("login", "logout"):
        from anaconda_auth import actions

        return getattr(actions, name)
    if name == "client_factory":
        from anaconda_auth.client import client_factory

        return client_factory
    if name == "hookimpl":
        from anaconda_auth.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'anaconda_auth' has no attribute {name!r}")
