"""Fixtures for the end-to-end CLI tests: run ``anaconda auth`` / ``python -m anaconda_auth``
as real subprocesses (optionally on a pseudo-terminal) against the local identity provider."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.cli import Answer, CliResult, cli_command, run_in_pty


@pytest.fixture
def cli_env(anaconda_idp: Any, anaconda_auth_home: Path) -> dict[str, str]:
    """The environment of a user whose config points at the provider, with a $BROWSER that
    completes logins (the provider approves at once) and a free port for the redirect."""
    anaconda_idp.settings.auto_approve = True
    env = dict(os.environ)
    env.update(
        COLUMNS="200",
        BROWSER=anaconda_idp.browser_command,
        ANACONDA_AUTH_REDIRECT_URI="http://127.0.0.1:0/auth/oidc",
        ANACONDA_CLI_DISABLE_TELEMETRY="1",
        OTEL_SDK_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    env.pop("NO_COLOR", None)
    return env


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> RunCli:
    """``run_cli("whoami", standalone=False, env={...}, command=None)``: a finished process."""

    def run(
        *args: str,
        standalone: bool = False,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        timeout: float = 90,
    ) -> CliResult:
        cmd = command if command is not None else cli_command(args, standalone)
        proc = subprocess.run(
            cmd,
            env={**cli_env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(cmd, proc.returncode, proc.stdout, proc.stderr)

    return run


RunPty = Callable[..., tuple[int, str]]


@pytest.fixture
def run_pty(cli_env: dict[str, str]) -> RunPty:
    """``run_pty("whoami", answers=[("[y/n]", "y\\n")], standalone=False, command=None)``."""

    def run(
        *args: str,
        answers: Sequence[tuple[str, Answer]] = (),
        standalone: bool = False,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        timeout: float = 90,
    ) -> tuple[int, str]:
        cmd = command if command is not None else cli_command(args, standalone)
        return run_in_pty(cmd, {**cli_env, **(env or {})}, answers, timeout)

    return run
