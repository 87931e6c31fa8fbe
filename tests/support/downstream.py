"""Throwaway venvs holding this checkout (installed non-editable) beside a downstream package
from PyPI, and running their programs offline (tests/e2e/test_downstream*.py).

The checkout is copied first (the files git knows of or would add, as dev/installed-copy.sh
does), so build output and the developer's venv never end up in the wheel. pip runs with our
environment (its index, cache and certificates) minus ``ANACONDA_*``; the programs run with a
fresh HOME, no ``ANACONDA_*`` unless a test adds them, and no network beyond loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DownstreamVenv:
    bin: Path
    setup_seconds: float

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def site_packages(self) -> Path:
        proc = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return Path(proc.stdout.strip())


def pip_env() -> dict[str, str]:
    """The environment pip runs in: ours (its index, cache and certificates), minus ANACONDA_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANACONDA_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def copy_checkout(dest: Path) -> None:
    """The files git knows of or would add (tracked and new, never ignored build output)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a file deleted but not yet staged is still listed
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def pypi_unreachable(python: Path, work: Path, requirement: str) -> str | None:
    """Why PyPI cannot provide ``requirement``, or ``None`` when it can."""
    probe = subprocess.run(
        [str(python), "-m", "pip", "download", "-q", "--no-deps", "-d", str(work), requirement],
        env=pip_env(),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"pip download exited {probe.returncode}"


def build_venv(
    work: Path,
    requirements: Sequence[str],
    *,
    prepare: Callable[[Path], None] | None = None,
) -> DownstreamVenv:
    """A venv in ``work`` with this checkout and ``requirements`` (the first one is the package
    under test: a skip names it when PyPI cannot provide it). ``prepare(python)`` runs after
    the venv is created, before pip (e.g. to install conda). Skips or fails the test."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the files of this checkout")
    started = time.monotonic()
    src = work / "src"
    copy_checkout(src)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    if prepare is not None:
        prepare(python)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(src), *requirements],
        env=pip_env(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if install.returncode != 0:
        reason = pypi_unreachable(python, work / "probe", requirements[0])
        if reason is not None:
            pytest.skip(f"PyPI cannot be reached for {requirements[0]}: {reason}")
        pytest.fail(f"pip install of this checkout and {requirements} failed:\n{install.stderr}")
    shutil.rmtree(src)
    return DownstreamVenv(venv / "bin", time.monotonic() - started)


def program_env(venv: DownstreamVenv, home: Path, tmp: Path) -> dict[str, str]:
    """A minimal environment: the venv's programs first, ``home``, no ``ANACONDA_*``."""
    return {
        "PATH": f"{venv.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "ANACONDA_CLI_DISABLE_TELEMETRY": "1",
        "OTEL_SDK_DISABLED": "true",
    }


def run_program(
    venv: DownstreamVenv,
    env: Mapping[str, str],
    program: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    input: str | None = None,  # noqa: A002 - subprocess.run's name
) -> subprocess.CompletedProcess[str]:
    """``program`` of the venv (``python``, ``anaconda``, ...) with ``args``; stdin is
    ``input``, or closed."""
    return subprocess.run(
        [str(venv.bin / program), *args],
        env=dict(env),
        cwd=cwd or env.get("HOME"),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit code, stdout and stderr of ``proc``, for assertion messages."""
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
