"""The stdout of a failing ``anaconda auth api-key`` is empty: every message and anaconda-cli-base's
``anaconda --verbose ...`` hint go to stderr, so ``KEY=$(anaconda auth api-key)`` captures the
key or nothing. Real ``anaconda`` subprocesses against the local provider."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import ANACONDA, strip_ansi

pytestmark = pytest.mark.e2e

HINT = "To see a more detailed error message run the command again as"


@pytest.mark.parametrize(
    ("args", "headline"),
    [
        (("api-key",), "TokenNotFoundError: Login is required"),
        (("api-key", "--at", "no-such-site"), "UnknownSiteName"),
    ],
)
def test_api_key_errors_leave_stdout_empty(
    run_cli: Any, anaconda_auth_home: Path, args: tuple[str, ...], headline: str
) -> None:
    result = run_cli(*args)
    assert result.returncode == 1, result
    assert result.stdout == "", result
    assert headline in result.stderr
    assert HINT in result.stderr
    assert f"anaconda --verbose auth {' '.join(args)}" in result.stderr


def test_api_key_success_prints_only_the_key(run_cli: Any, anaconda_logged_in: Any) -> None:
    result = run_cli("api-key")
    assert result.returncode == 0, result
    assert result.stdout == anaconda_logged_in.api_key + "\n"


def test_the_hint_on_a_terminal_stderr_keeps_its_colour(
    cli_env: dict[str, str], anaconda_auth_home: Path
) -> None:
    """stderr on a terminal, stdout captured (as in ``$(...)`` typed at a prompt)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [ANACONDA, "auth", "api-key"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**cli_env, "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(slave)
    raw = b""
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                if not data:
                    break
                raw += data
            elif proc.poll() is not None:
                break
        stdout, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = raw.decode(errors="replace")
    assert proc.returncode == 1, err
    assert stdout == b""
    assert HINT in strip_ansi(err)
    assert "anaconda --verbose auth api-key" in strip_ansi(err)
    assert "\x1b[32m" in err.split(HINT, 1)[1]  # the command in green, as cli-base prints it


def test_hint_to_stderr_moves_one_print_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import anaconda_cli_base.cli as cli_base
    from anaconda_auth.plugins.cli import _state
    from anaconda_auth.plugins.cli.dispatch import hint_to_stderr

    monkeypatch.setattr(_state, "_consoles", {})  # a stderr console on capsys's stderr

    hint_to_stderr()
    hint_to_stderr()  # idempotent until the hint is printed
    cli_base.console.print("the hint")
    cli_base.console.print("normal output")
    out, err = capsys.readouterr()
    assert err == "the hint\n"
    assert out == "normal output\n"
