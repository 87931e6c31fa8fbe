"""conda's plugin hooks: the ``anaconda-auth`` auth handler and the ``conda token`` command.

Imported by :mod:`.entrypoint` only, so only when conda loads its plugins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from conda import plugins
from conda.plugins.types import CondaAuthHandler, CondaSubcommand

from anaconda_auth._conda.auth_handler import AnacondaAuthHandler
from anaconda_auth._conda.config import HANDLER_NAME

__all__ = ["conda_auth_handlers", "conda_subcommands"]


def _cli_wrapper(argv: Sequence[str] | None = None) -> int:
    from anaconda_auth._conda.conda_token import cli

    return cli(argv=list(argv or []))


@plugins.hookimpl  # type: ignore[untyped-decorator]
def conda_subcommands() -> Iterable[CondaSubcommand]:
    yield CondaSubcommand(
        name="token",
        summary="Set repository access token and configure default_channels",
        action=_cli_wrapper,
    )


@plugins.hookimpl  # type: ignore[untyped-decorator]
def conda_auth_handlers() -> Iterable[CondaAuthHandler]:
    """The handler named in condarc ``channel_settings``::

    channel_settings:
      - channel: https://repo.anaconda.cloud/*
        auth: anaconda-auth
    """
    yield CondaAuthHandler(name=HANDLER_NAME, handler=AnacondaAuthHandler)
