"""Fixtures for the end-to-end CLI tests: run ``anaconda auth`` / ``python -m anaconda_auth``
as real subprocesses (optionally on a pseudo-terminal) against the local identity provider."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
ANACONDA = str(BIN / "anaconda")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return (
            f"CliResult({self.args!r}, rc={self.returncode})\n--- stdout\n{self.stdout}"
            f"--- stderr\n{self.stderr}"
        )


def cli_command(args: Sequence[str], standalone: bool = False) -> list[str]:
    """``anaconda auth ARGS`` (through anaconda-cli-base) or ``python -m anaconda_auth ARGS``."""
    if standalone:
        return [sys.executable, "-m", "anaconda_auth", *args]
    return [ANACONDA, "auth", *args]


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


def run_in_pty(
    cmd: list[str],
    env: dict[str, str],
    answers: Sequence[tuple[str, str]] = (),
    timeout: float = 90,
) -> tuple[int, str]:
    """Run ``cmd`` with stdin, stdout and stderr on a pseudo-terminal (200 columns).

    ``answers``: (text to wait for, what to type), in order. Returns the exit code and
    everything the terminal showed, without escape sequences.
    """
    import fcntl  # POSIX only: imported here so the other e2e tests still load elsewhere
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(
        cmd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm-256color"},
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    raw = b""
    searched_from = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(
                    f"{cmd} timed out; output:\n{strip_ansi(raw.decode(errors='replace'))}"
                )
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                if not data:
                    break
                raw += data
                text = strip_ansi(raw.decode(errors="replace"))
                if pending and pending[0][0] in text[searched_from:]:
                    searched_from = text.index(pending[0][0], searched_from) + len(pending[0][0])
                    os.write(master, pending.pop(0)[1].encode())
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not pending, f"never saw {pending[0][0]!r}; output:\n{strip_ansi(raw.decode())}"
    return proc.returncode, strip_ansi(raw.decode(errors="replace"))


RunPty = Callable[..., tuple[int, str]]


@pytest.fixture
def run_pty(cli_env: dict[str, str]) -> RunPty:
    """``run_pty("whoami", answers=[("[y/n]", "y\\n")], standalone=False, command=None)``."""

    def run(
        *args: str,
        answers: Sequence[tuple[str, str]] = (),
        standalone: bool = False,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        timeout: float = 90,
    ) -> tuple[int, str]:
        cmd = command if command is not None else cli_command(args, standalone)
        return run_in_pty(cmd, {**cli_env, **(env or {})}, answers, timeout)

    return run
