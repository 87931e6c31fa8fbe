"""Per-process state of the CLI: the selected site, verbosity, and whether a retry happened.

Kept in one small object so the error handlers (which only receive the exception) know which
site to log in to and whether the command was already retried once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class CliState:
    #: The site named by ``--at`` (``None``: the default site, which honours
    #: ``ANACONDA_DEFAULT_SITE`` as set by ``anaconda --at``).
    site: str | None = None
    #: ``--verbose`` was given: debug logs on stderr and a traceback on errors.
    verbose: bool = False
    #: The command already ran a second time after an interactive login.
    retried: bool = False
    #: The standalone runner is running the command that second time.
    retrying: bool = False
    #: The command that re-runs this program with ``--verbose`` inserted (see :func:`verbose_hint`).
    standalone_prog: str | None = None

    def new_command(self) -> None:
        """Forget what the previous command of this process left (tests run many)."""
        self.site = None
        self.verbose = False
        self.retried = False


STATE = CliState()

_consoles: dict[str, Console] = {}


def err_console() -> Console:
    """Rich console on stderr: messages, prompts, spinners, errors. Never hard-wraps lines."""
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, soft_wrap=True, highlight=False)
    return _consoles["err"]


def out_console() -> Console:
    """Rich console on stdout: the results of ``whoami``, ``plugins`` and ``config``."""
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console(soft_wrap=True, highlight=False)
    return _consoles["out"]


def is_interactive() -> bool:
    """Whether a person can answer a prompt: stdin and stderr (where prompts go) are TTYs.

    While ``anaconda_auth.cli.sys`` is patched (anaconda-assistant-conda does, as 0.15's
    handlers read ``sys.stdout.isatty()`` there), the patched ``stdout.isatty()`` decides.
    """
    patched = getattr(sys.modules.get("anaconda_auth.cli"), "sys", sys)
    if patched is not sys:
        return bool(patched.stdout.isatty())
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def login_command() -> str:
    """How to log in to the current site, as the user would type it."""
    if STATE.site:
        return f"anaconda auth login --at {STATE.site}"
    return "anaconda auth login"
