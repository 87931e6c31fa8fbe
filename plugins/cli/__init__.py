"""The ``anaconda auth`` command (mounted by anaconda-cli-base)."""

from __future__ import annotations

import typer

app = typer.Typer(name="auth", help="Log in to Anaconda and manage your API key.")
