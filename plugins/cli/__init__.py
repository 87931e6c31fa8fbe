"""The ``anaconda auth`` command, mounted by anaconda-cli-base (entry point ``app``).

This module is imported every time any ``anaconda`` command starts: it imports only
:mod:`typer` (already imported by anaconda-cli-base) and never raises. Run it without
anaconda-cli-base with ``python -m anaconda_auth``.
"""

from __future__ import annotations

from collections.abc import Sequence

from anaconda_auth.plugins.cli.commands import app
from anaconda_auth.plugins.cli.dispatch import guard_cli_base_startup, register_with_cli_base

__all__ = ["app", "main", "register_with_cli_base"]


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run ``anaconda auth`` standalone (``python -m anaconda_auth``); return the exit code."""
    from anaconda_auth.plugins.cli.dispatch import run

    return run(app, argv, prog)


try:
    register_with_cli_base()
    guard_cli_base_startup()
except Exception:  # noqa: BLE001 # pragma: no cover - loading the plugin must never fail
    import logging

    logging.getLogger(__name__).debug("registering with anaconda-cli-base failed", exc_info=True)
