"""The typer app of ``anaconda auth``, its top-level options, and what every command shares.

The commands themselves live in :mod:`~anaconda_auth.plugins.cli.account` and
:mod:`~anaconda_auth.plugins.cli.inspection`; :mod:`~anaconda_auth.plugins.cli.commands`
registers them on :data:`app`. Only :mod:`typer` is imported here.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from anaconda_auth.plugins.cli import legacy
from anaconda_auth.plugins.cli._state import STATE
from typer.core import TyperGroup

# Help texts: one line per paragraph (typer keeps single newlines when the app is mounted).
HELP = (
    "Log in to Anaconda and manage your API key.\n\n"
    'Exit codes: 0 success; 1 error (including "login required" when nobody can answer the '
    "login prompt); 2 wrong usage; 130 interrupted (Ctrl-C).\n\n"
    "The token options of anaconda-client (--list, --create, --info, --remove, --list-scopes, "
    "...) are handed on to anaconda-client's `anaconda org auth`, as in anaconda-auth 0.15."
)


class AuthGroup(TyperGroup):
    """The ``anaconda auth`` group: anaconda-client's token options go to anaconda-client.

    ``anaconda auth --list`` (and the other options of anaconda-client's ``auth``) is set
    aside before click parses it, for the callback to hand on (:mod:`.legacy`), as 0.15 did.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        tail = legacy.legacy_arguments(args)
        if tail is not None:
            ctx.meta[legacy.META_KEY] = tail
            args = []
        else:
            ctx.meta.pop(legacy.META_KEY, None)
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="auth",
    cls=AuthGroup,
    help=HELP,
    no_args_is_help=False,  # the callback prints the help and exits 0, as 0.15
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="SITE",
        help="The site to use: a site name from ~/.anaconda/config.toml, or a domain. "
        "Default: the default site.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def routed_errors(func: F) -> F:
    """Let anaconda-cli-base route any exception of this command to our handlers.

    Its registry is keyed by exact type; the common types are registered when the module
    loads, and this catches the rest (e.g. a type a third-party handler plugin covers).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            from anaconda_auth.plugins.cli.dispatch import register_type_with_cli_base

            register_type_with_cli_base(type(exc))
            raise

    return wrapper  # type: ignore[return-value]


def use_site(at: str | None) -> str | None:
    """Remember the ``--at`` site for the error handlers; return it."""
    STATE.site = at
    return at


def _enable_debug_logging() -> None:
    import logging

    if getattr(_enable_debug_logging, "done", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("anaconda_auth", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    _enable_debug_logging.done = True  # type: ignore[attr-defined]


def _parent_verbose(ctx: typer.Context) -> bool:
    """``anaconda --verbose ...``: anaconda-cli-base keeps its options in ``ctx.obj.params``."""
    params = getattr(ctx.obj, "params", None)
    return bool(isinstance(params, dict) and params.get("verbose"))


def _is_retry(ctx: typer.Context) -> bool:
    """Whether this run is the one retry after an interactive login (anaconda-cli-base marks
    its group with ``_retrying``; the standalone runner sets ``STATE.retrying``)."""
    root = ctx.find_root().command
    return STATE.retrying or getattr(root, "_retrying", False) is True


def _hand_off(tail: list[str], prog: str) -> int:
    try:
        return legacy.hand_off(tail, prog)
    except Exception as exc:
        # anaconda-client's errors reach our handlers too (stderr, no stdout noise)
        from anaconda_auth.plugins.cli.dispatch import register_type_with_cli_base

        register_type_with_cli_base(type(exc))
        raise


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("-V", "--version", help="Print the version of anaconda-auth and exit."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", help="Print debug messages, and tracebacks of errors, on stderr."
        ),
    ] = False,
) -> None:
    if not _is_retry(ctx):
        STATE.new_command()
    tail = ctx.meta.get(legacy.META_KEY)
    if tail is not None:
        raise typer.Exit(_hand_off(tail, ctx.command_path))
    if version:
        from anaconda_auth._version import __version__

        print(f"anaconda-auth, version {__version__}")
        raise typer.Exit()
    if verbose or _parent_verbose(ctx):
        STATE.verbose = True
        _enable_debug_logging()
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit()
