"""The ``anaconda auth`` commands, on one typer :data:`app`.

Only :mod:`typer` is imported at module level: anaconda-cli-base imports this module every time
any ``anaconda`` command starts, so rich, requests, pydantic, the config and the login flows
are imported inside the commands that need them.

The app and its top-level options are in :mod:`~anaconda_auth.plugins.cli._app`; importing
:mod:`~anaconda_auth.plugins.cli.account` (``login``, ``logout``, ``whoami``, ``api-key``) and
then :mod:`~anaconda_auth.plugins.cli.inspection` (``plugins``, ``config``) and
:mod:`~anaconda_auth.plugins.cli.status` (``status``) registers the commands, in that order.

Output: results (``whoami``, ``api-key``, ``plugins``, ``config``, ``status``, ``--version``) go
to stdout; progress, prompts, notes and errors go to stderr.
"""

from __future__ import annotations

from anaconda_auth.plugins.cli import account, inspection, status, switch
from anaconda_auth.plugins.cli._app import app

__all__ = ["account", "app", "inspection", "status", "switch"]
