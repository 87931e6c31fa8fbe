"""0.15's setup after ``anaconda auth login`` when conda is on PATH: for organizations with
the *environments* feature, offer to install the environment manager and register the machine.

Nothing here fails a login: :func:`run_post_login_setup` turns any error into a warning.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

CHECK_MARK = "[bold green]✔︎[/bold green]"
RETRY_HINT = (
    "You can configure environment management manually by running:\n"
    "  [green]conda env-log register[/green]"
)


def post_login_setup(
    ssl_verify: bool | str | None = None,
    *,
    fetch: Callable[..., list[Any] | None] | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> None:
    """Fetch the organization features; for *environments* organizations install the manager
    (after asking; default yes) and register, unless the machine is registered already.
    ``fetch`` defaults to :func:`anaconda_auth.env_logger.fetch_org_features`."""
    from anaconda_cli_base import console

    from anaconda_auth._conda import env_logger_config as elc
    from anaconda_auth.env_logger import fetch_org_features, get_orgs_with_env_logger

    conda_path = shutil.which("conda")
    if not conda_path:
        return
    org_features = (fetch or fetch_org_features)(ssl_verify=ssl_verify)
    if org_features is None or not get_orgs_with_env_logger(org_features):
        return
    if not elc.is_env_manager_installed(conda_path):
        question = (
            "Anaconda Environment Manager is required by your organization. "
            "It is recommended to install. Proceed?"
        )
        if not (confirm or _confirm)(question):
            return
        ok, error = elc.install_env_manager(conda_path)
        if not ok:
            console.print(
                f"[bold red]Error:[/bold red] Failed to install anaconda-env-manager.\n{error}"
            )
            return
        console.print(f"{CHECK_MARK} anaconda-env-manager installed successfully.")
    if elc.is_client_registered(conda_path):
        return
    if not elc.register_org(conda_path):
        console.print(
            "\n[bold yellow]Warning:[/bold yellow] Failed to register client token.\n"
            "You can retry registration manually by running:\n"
            "  [green]conda env-log register[/green]"
        )


def _confirm(question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, default=True)


def run_post_login_setup(ssl_verify: bool | str | None = None, **kwargs: Any) -> None:
    """:func:`post_login_setup`, with any failure reported as a warning (never raised)."""
    try:
        post_login_setup(ssl_verify=ssl_verify, **kwargs)
    except Exception:
        logger.debug("Post-login setup failed", exc_info=True)
        from anaconda_cli_base import console

        console.print(
            "\n[bold yellow]Warning:[/bold yellow] Post-login setup could not be completed.\n"
            + RETRY_HINT
        )
