"""Turning an exception into a message and an exit code, for both ways the CLI runs.

* Under anaconda-cli-base (``anaconda auth ...`` and every other ``anaconda`` plugin) the
  exception propagates to its ``ErrorHandledGroup``, which looks the handler up in its
  ``ERROR_HANDLERS`` registry by *exact* type, retries the whole command when the handler
  returns -1, and prints the ``anaconda --verbose ...`` hint otherwise (on its stdout console:
  :func:`hint_to_stderr` sends that one line to stderr, so the stdout of a failed
  ``anaconda auth api-key`` stays empty).
  :func:`register_with_cli_base` puts :func:`handle_exception` into that registry for the
  exception types of this package and of ``requests``.
* Standalone (``python -m anaconda_auth``), :func:`run` does the same itself.

Either way :func:`handle_exception` finds the handler along the exception's MRO among those the
``anaconda_auth_error_handlers`` hook returned.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from anaconda_auth.plugins.cli._state import STATE, err_console

if TYPE_CHECKING:
    import typer

    from anaconda_auth.plugin_types import ErrorHandler

log = logging.getLogger(__name__)

CLI_BASE_REGISTRY_MODULE = "anaconda_cli_base.exceptions"
RETRY = -1  # == anaconda_auth.plugin_types.RETRY_AFTER_LOGIN, without importing it here


def find_handler(exc: BaseException) -> ErrorHandler | None:
    """The handler for the most specific class in ``type(exc).__mro__`` that has one."""
    try:
        from anaconda_auth.plugins.cli.error_handlers import plugin_manager

        handlers = plugin_manager().get_error_handlers()
    except Exception:  # noqa: BLE001 - e.g. two plugins with one name: use the built-ins
        log.debug("could not collect error handlers from plugins", exc_info=True)
        from anaconda_auth.plugins.cli.error_handlers import builtin_handlers

        handlers = {h.exception: h for h in builtin_handlers()}
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None


def render_generic(exc: BaseException) -> int:
    """What anaconda-cli-base prints for an exception nobody handles: ``Name: message``."""
    from anaconda_auth.plugins.cli.error_handlers import print_headline

    print_headline(exc)
    return 1


def print_traceback(exc: BaseException) -> None:
    """The traceback on stderr, without local variables (they can hold secrets)."""
    from rich.traceback import Traceback

    err_console().print(
        Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=False)
    )


def handle_exception(exc: BaseException) -> int:
    """Render ``exc``; return the exit code, or -1 to have the command run once more."""
    if STATE.verbose:
        # as anaconda-cli-base does for `anaconda --verbose`: the traceback (which ends with
        # the message) instead of the handler, so nothing is printed twice
        print_traceback(exc)
        return 1
    already_retried = STATE.retried
    try:
        handler = find_handler(exc)
        code = handler.handle(exc) if handler is not None else render_generic(exc)
    except Exception:  # noqa: BLE001 - a broken handler must not hide the original error
        log.debug("the error handler failed", exc_info=True)
        code = render_generic(exc)
    if code == RETRY:
        # One retry per command: a handler asking again would loop forever.
        if already_retried:
            code = 1
        STATE.retried = True
    return code


CLI_BASE_MODULE = "anaconda_cli_base.cli"


def hint_to_stderr() -> None:
    """Have anaconda-cli-base's next ``console.print`` (its ``--verbose`` hint) go to stderr.

    anaconda-cli-base prints the hint with its module-level ``Console`` (stdout) right after
    the handler returns, then exits. That one print is handed, with the same text and markup,
    to this CLI's stderr console (colours follow whether stderr is a terminal); the next
    prints of anaconda-cli-base's console go to stdout again.
    """
    from rich.console import Console

    console = getattr(sys.modules.get(CLI_BASE_MODULE), "console", None)
    if not isinstance(console, Console) or "print" in vars(console):
        return

    def print_once(*args: Any, **kwargs: Any) -> None:
        vars(console).pop("print", None)
        err_console().print(*args, **kwargs)

    vars(console)["print"] = print_once


def _cli_base_handler(exc: Exception) -> int:
    code = handle_exception(exc)
    if code != RETRY:
        hint_to_stderr()
        # the command is over: the next one in this process (tests) may offer a login again
        STATE.retried = False
    return code


def register_type_with_cli_base(exc_type: type[BaseException]) -> None:
    """Send ``exc_type`` to :func:`handle_exception` under anaconda-cli-base, if it is loaded."""
    registry = sys.modules.get(CLI_BASE_REGISTRY_MODULE)
    handlers = getattr(registry, "ERROR_HANDLERS", None)
    if handlers is not None:
        handlers[exc_type] = _cli_base_handler


def register_with_cli_base() -> None:
    """Register the exception types of this package and of ``requests`` with anaconda-cli-base.

    Cheap and import-free: it does nothing until both anaconda-cli-base's registry and
    :mod:`anaconda_auth.exceptions` are imported. ``anaconda_auth.exceptions`` calls it again
    when it is first imported, so the order of the two does not matter. Registering is only
    dict assignments; handlers are looked up when an error happens.
    """
    if CLI_BASE_REGISTRY_MODULE not in sys.modules:
        return
    exceptions = sys.modules.get("anaconda_auth.exceptions")
    if exceptions is None:
        return
    types: list[type[BaseException]] = []
    # requests is not imported for that (tens of milliseconds on every `anaconda auth
    # api-key`): its types are registered once it is, when anaconda_auth.exceptions creates
    # its HTTP errors (see there), and @_command registers any type a command raises.
    rexc = sys.modules.get("requests.exceptions")
    if rexc is not None:
        types += [
            rexc.HTTPError,
            rexc.ConnectionError,
            rexc.SSLError,
            rexc.ProxyError,
            rexc.ConnectTimeout,
        ]
    pending: list[type[BaseException]] = [exceptions.AnacondaAuthError]
    while pending:
        cls = pending.pop()
        types.append(cls)
        pending.extend(cls.__subclasses__())
    for exc_type in types:
        register_type_with_cli_base(exc_type)


CLI_BASE_PLUGINS_MODULE = "anaconda_cli_base.plugins"
DEFAULT_DOMAIN = "anaconda.com"


def guard_cli_base_startup() -> None:
    """Keep a broken site configuration from stopping every ``anaconda`` command.

    When ``anaconda`` starts, anaconda-cli-base (0.9) reads our ``AnacondaAuthSitesConfig()``
    for the site list of ``anaconda login``, without a guard: a config.toml whose sites are
    invalid would end every ``anaconda`` command (``anaconda upload`` too) in a traceback. Its
    ``_load_auth_handler`` is wrapped so that an error for *our* plugin (``auth``) only leaves
    that list without the configured sites; the command that needs the configuration reports
    the error as usual. Other plugins' errors pass unchanged. A no-op unless anaconda-cli-base
    is loading the plugins, and when its function is missing or already wrapped.
    """
    plugins = sys.modules.get(CLI_BASE_PLUGINS_MODULE)
    original = getattr(plugins, "_load_auth_handler", None)
    if original is None or getattr(original, "_anaconda_auth_guard", False):
        return

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except Exception:
            name = args[1] if len(args) > 1 else kwargs.get("name")
            if name != "auth":
                raise
            log.debug("the sites for `anaconda login` could not be read", exc_info=True)
            # `anaconda login` still reaches `anaconda auth login`, which reports the error
            handlers = args[2] if len(args) > 2 else kwargs.get("auth_handlers")
            selectors = args[3] if len(args) > 3 else kwargs.get("auth_handler_selectors")
            if isinstance(handlers, dict) and isinstance(selectors, list):
                handlers.setdefault(DEFAULT_DOMAIN, args[0] if args else None)
                if all(site != DEFAULT_DOMAIN for site, _ in selectors):
                    selectors.append((DEFAULT_DOMAIN, DEFAULT_DOMAIN))
            return None

    guarded._anaconda_auth_guard = True  # type: ignore[attr-defined]
    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    plugins._load_auth_handler = guarded  # type: ignore[union-attr]


def verbose_hint(args: Sequence[str]) -> None:
    """The line anaconda-cli-base prints after an error, for the standalone program."""
    prog = STATE.standalone_prog or "anaconda auth"
    cmd = " ".join([prog, "--verbose", *args])
    err_console().print(
        "\nTo see a more detailed error message run the command again as"
        f"\n  [green]{_escape(cmd)}[/green]"
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def run(app: typer.Typer, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the ``anaconda auth`` app without anaconda-cli-base; return the exit code.

    Errors are handled as anaconda-cli-base does: the handler's message, one retry after an
    interactive login, then the ``--verbose`` hint; with ``--verbose``, the traceback.
    """
    import typer.main

    args = list(sys.argv[1:] if argv is None else argv)
    STATE.standalone_prog = prog or "python -m anaconda_auth"
    command = typer.main.get_command(app)
    try:
        for attempt in range(2):
            STATE.retrying = attempt > 0
            try:
                command.main(args=list(args), prog_name=STATE.standalone_prog, standalone_mode=True)
            except SystemExit as exit_:
                return _exit_code(exit_.code)
            except Exception as exc:  # noqa: BLE001 - this is the top-level error handler
                code = handle_exception(exc)
                if code == RETRY and attempt == 0:
                    continue
                code = 1 if code == RETRY else code
                if not STATE.verbose:
                    verbose_hint([a for a in args if a not in ("-v", "--verbose")])
                return code
            return 0
        return 1  # pragma: no cover - the loop always returns
    finally:
        STATE.retrying = False


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
