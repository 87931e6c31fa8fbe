"""Running ``anaconda auth`` / ``python -m anaconda_auth`` as real subprocesses, optionally on
a pseudo-terminal (the fixtures that use this are in tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


#: What :func:`run_in_pty` does when a text shows: type a string, or call a function.
Answer = str | Callable[[], None]


def run_in_pty(
    cmd: list[str],
    env: dict[str, str],
    answers: Sequence[tuple[str, Answer]] = (),
    timeout: float = 90,
) -> tuple[int, str]:
    """Run ``cmd`` with stdin, stdout and stderr on a pseudo-terminal (200 columns).

    ``answers``: (text to wait for, what to type), in order; instead of text to type, a
    function to call once the text has shown (to act on what the program shows). Returns the
    exit code and everything the terminal showed, without escape sequences.
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
                    answer = pending.pop(0)[1]
                    if callable(answer):
                        answer()
                    else:
                        os.write(master, answer.encode())
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


@contextmanager
def running(cmd: Sequence[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``cmd`` started with no stdin and stdout/stderr as text pipes; killed on the way out
    if it is still running."""
    proc = subprocess.Popen(
        list(cmd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
