"""Running conda commands in a subprocess (0.15's test helper, kept importable): conda's own
``conda.cli.python_api`` was removed."""

from __future__ import annotations

import subprocess
import sys


class Commands:
    CLEAN = "clean"
    CONFIG = "config"
    INSTALL = "install"
    LIST = "list"
    REMOVE = "remove"
    SEARCH = "search"


def run_command(*args: str, use_exception_handler: bool = False) -> tuple[str, str, int]:
    """``python -m conda ARGS`` with this interpreter: ``(stdout, stderr, returncode)``."""
    proc = subprocess.run(
        [sys.executable, "-m", "conda", *args], capture_output=True, text=True, check=False
    )
    return proc.stdout, proc.stderr, proc.returncode
