"""``anaconda auth --list`` and the other token options of anaconda-client (0.15's hand-off).

Before ``anaconda auth`` became this package's command, it was anaconda-client's token manager
(now ``anaconda org auth``). anaconda-auth 0.15 kept those invocations working: when
``anaconda auth`` is given one of anaconda-client's options, it prints a deprecation warning
and runs anaconda-client's ``auth`` command with the same arguments. This module does the same:

* :func:`legacy_arguments` recognises them (before any command name, so ``anaconda auth login
  --name x`` stays ours), without importing anything;
* :func:`hand_off` prints 0.15's warning on stderr and calls anaconda-client's
  ``binstar_client.scripts.cli.main(["auth", ...], allow_plugin_main=False)``, which parses
  the options itself (argparse: its usage errors, its help with ``-h``); when anaconda-client
  is not installed it says how to install it and exits 2 (wrong usage), as nothing ran.

stdlib only at import: the group class of :mod:`~anaconda_auth.plugins.cli._app` calls
:func:`legacy_arguments` on every ``anaconda auth`` command line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: The options of anaconda-client's ``auth`` command (binstar_client/commands/authorizations.py
#: in anaconda-client 1.16), as 0.15 listed them, plus argparse's ``--json-help``.
LONG_OPTIONS = frozenset(
    {
        "--name",
        "--org",
        "--organization",
        "--strength",
        "--strong",
        "--weak",
        "--url",
        "--max-age",
        "--scopes",
        "--out",
        "--list-scopes",
        "--list",
        "--remove",
        "--create",
        "--info",
        "--current-info",
        "--json-help",
    }
)
#: Their one-letter forms (``-n NAME``, ``-nNAME``, ``-lx`` ...). Ours are -h, -v and -V.
SHORT_OPTIONS = frozenset("nowsxlrci")

#: Where the hand-off finds the arguments (``ctx.meta``: shared by the whole context tree).
META_KEY = "anaconda_auth.legacy_arguments"

DEPRECATION = (
    "Please use anaconda org auth instead for explicit management of anaconda.org auth tokens"
)
#: Our own top-level flag that anaconda-client also knows, as a top-level option.
VERBOSE = ("-v", "--verbose")


def is_legacy_option(arg: str) -> bool:
    """Whether ``arg`` is one of anaconda-client's ``auth`` options (``--name=x`` included)."""
    if arg.startswith("--"):
        return arg.split("=", 1)[0] in LONG_OPTIONS
    return len(arg) > 1 and arg[0] == "-" and arg[1] in SHORT_OPTIONS


def legacy_arguments(args: Sequence[str]) -> list[str] | None:
    """``args`` (what follows ``anaconda auth``) when they are meant for anaconda-client.

    Only the options before the first command name count: ``anaconda auth --list`` is
    anaconda-client's, ``anaconda auth api-key --name x`` is ours (and an error). ``None`` when
    the arguments are ours.
    """
    for arg in args:
        if arg == "--" or not arg.startswith("-"):
            return None
        if is_legacy_option(arg):
            return list(args)
    return None


def _global_arguments(tail: Sequence[str], argv: Sequence[str]) -> list[str]:
    """The top-level options before ``auth`` on the command line (``anaconda -t TOKEN auth ...``).

    anaconda-client's own pass-through commands (``anaconda org ...``) read them from
    ``sys.argv`` too: ``-t/--token`` and ``-s/--site`` are top-level options of its parser.
    Only when ``sys.argv`` is ``PROGRAM [OPTIONS] auth|cloud TAIL``; otherwise (``python -m
    anaconda_auth``, an embedding program) none.
    """
    args = list(argv[1:])
    n = len(tail)
    if len(args) <= n or args[len(args) - n :] != list(tail):
        return []
    if args[-n - 1] not in ("auth", "cloud"):
        return []
    return args[: -n - 1]


def client_arguments(tail: Sequence[str], argv: Sequence[str] | None = None) -> list[str]:
    """The argument list for anaconda-client's ``main``: ``[GLOBALS..., "auth", OPTIONS...]``.

    ``anaconda cloud --list`` becomes anaconda-client's ``auth`` too (it has no ``cloud``);
    our ``-v/--verbose`` moves before ``auth``, where anaconda-client accepts it.
    """
    prefix = _global_arguments(tail, sys.argv if argv is None else argv)
    options = [a for a in tail if a not in VERBOSE]
    verbose = [a for a in tail if a in VERBOSE][:1]
    return [*prefix, *verbose, "auth", *options]


def _not_installed(tail: Sequence[str], prog: str) -> int:
    from anaconda_auth.plugins.cli._state import err_console

    console = err_console()
    given = " ".join(tail)
    console.print(
        f"`{prog} {given}`: these options belong to anaconda-client's token management "
        "(`anaconda org auth`), and anaconda-client is not installed. Install it with",
        markup=False,
    )
    console.print("  conda install anaconda-client", style="green", markup=False)
    console.print("or", markup=False)
    console.print("  pip install anaconda-client", style="green", markup=False)
    console.print(f"and run `anaconda org auth {given}`.", markup=False)
    console.print(f"The commands of anaconda-auth: `{prog} --help`.", markup=False)
    return 2


def hand_off(tail: Sequence[str], prog: str = "anaconda auth") -> int:
    """Run anaconda-client's ``auth`` with ``tail``; return the exit code.

    ``prog`` is how the user called us (``anaconda cloud``), for the message shown when
    anaconda-client is not installed.

    Errors anaconda-client raises propagate (to anaconda-cli-base's error handling, as for
    ``anaconda org auth``); its argparse errors exit 2 with its usage.
    """
    import importlib

    from anaconda_auth.plugins.cli._state import err_console

    try:
        # (by name: anaconda-client is optional and ships no type information)
        client_main = importlib.import_module("binstar_client.scripts.cli").main
    except ModuleNotFoundError as exc:
        if exc.name == "binstar_client":
            return _not_installed(tail, prog)
        raise

    console = err_console()
    console.print("[yellow]DeprecationWarning[/yellow]: ", end="")
    console.print(DEPRECATION.replace("anaconda org auth", "[cyan]anaconda org auth[/cyan]"))
    console.print()
    client_main(client_arguments(tail), allow_plugin_main=False)
    return 0
