"""What every benchmark group shares: the venvs, running and timing processes, the table."""

from __future__ import annotations

import base64
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ANACONDA_AUTH_BENCH_CACHE", Path.home() / ".cache" / "anaconda-auth"))
REF_VENV = Path(os.environ.get("ANACONDA_AUTH_REF_VENV", CACHE / "ref-0.15.3"))
OURS_VENV = CACHE / "bench-ours"
REF_VERSION = "0.15.3"
DOMAIN = "anaconda.com"
#: What ``import anaconda_auth.client`` must not import (see docs/dev/decisions/0018).
LAZY = ("typer", "rich", "pydantic_settings", "cryptography", "keyring", "pluggy", "filelock")
LAZY_OURS = ("anaconda_auth.manager", "anaconda_auth.config", "pydantic")


def fake_api_key(lifetime: int = 30 * 24 * 3600, tag: str = "bench") -> str:
    """An unsigned-looking JWT with an ``exp``: neither library verifies the signature."""

    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": tag, "exp": int(time.time()) + lifetime, "scopes": ["cloud:read"]}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


# ---------------------------------------------------------------- environments


def _python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def _pip(venv: Path, *args: str) -> None:
    out = subprocess.run(
        [_python(venv), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{out.stderr[-3000:]}")


def _clean_copy() -> Path:
    """The checkout without build artefacts: a stale ``build/`` must not leak into the wheel."""
    dest = Path(tempfile.mkdtemp(prefix="anaconda-auth-src-"))
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
    )
    shutil.copytree(REPO, dest / "src", ignore=ignore)
    return dest


def ensure_venvs(skip_install: bool) -> None:
    if not (REF_VENV / "bin" / "python").exists():
        print(f"creating {REF_VENV} with anaconda-auth=={REF_VERSION} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        _pip(REF_VENV, f"anaconda-auth=={REF_VERSION}")
    fresh = not (OURS_VENV / "bin" / "python").exists()
    if fresh:
        print(f"creating {OURS_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(OURS_VENV)], check=True)
        _pip(OURS_VENV, "--upgrade", "pip", "setuptools", "wheel")
    if fresh or not skip_install:
        src = _clean_copy()
        try:
            if fresh:
                _pip(OURS_VENV, str(src / "src"))
            else:
                _pip(OURS_VENV, "--force-reinstall", "--no-deps", str(src / "src"))
        finally:
            shutil.rmtree(src, ignore_errors=True)


@dataclass
class Side:
    label: str
    venv: Path
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-home-")))
    api_key: str = field(default_factory=fake_api_key)

    @property
    def python(self) -> str:
        return _python(self.venv)

    def env(self, **extra: str) -> dict[str, str]:
        # A minimal environment: no ANACONDA_*, no D-Bus session (so 0.15.3's keyring falls
        # back to its file backend too), no proxies, no CA-bundle overrides.
        env = {
            "HOME": str(self.home),
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "OTEL_SDK_DISABLED": "true",
            "ANACONDA_TELEMETRY_ENABLED": "false",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def run_py(self, code: str, *args: str, **extra: str) -> str:
        out = subprocess.run(
            [self.python, "-c", textwrap.dedent(code), *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            cwd=self.home,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{self.label}: {out.stderr.strip()[-2000:]}")
        return out.stdout

    @property
    def keyring(self) -> Path:
        return self.home / ".anaconda" / "keyring"


SAVE_TOKEN = """
import sys
from anaconda_auth.token import TokenInfo
TokenInfo(domain=sys.argv[1], api_key=sys.argv[2], username="bench").save()
info = TokenInfo.load(sys.argv[1])
assert info.api_key == sys.argv[2], "the saved token does not read back"
print(getattr(info, "source", None) or "")
"""


def prepare(side: Side) -> str:
    """Store the token; check it went to the keyring file; a description of the storage."""
    for leftover in side.keyring.parent.glob("keyring*"):
        leftover.unlink()
    source = side.run_py(SAVE_TOKEN, DOMAIN, side.api_key).strip()
    if not side.keyring.is_file():
        raise RuntimeError(f"{side.label}: the token was not stored in {side.keyring}")
    raw = side.keyring.read_bytes()
    if side.label == "ours":
        # The JSON envelope 0.15 can parse, holding the sealed keyring (decision 0028).
        sealed = json.loads(raw).get("anaconda-auth encrypted keyring", {}).get("v1", "")
        if source != "anaconda-keyring" or not sealed.startswith("gUFLU"):  # b"\x81AKR"
            raise RuntimeError(f"ours: token not read from the encrypted keyring ({source!r})")
        return "encrypted file ~/.anaconda/keyring (AES-GCM, key file)"
    doc = json.loads(raw)
    if DOMAIN not in doc.get("Anaconda Cloud", {}):
        raise RuntimeError(f"{side.label}: the keyring file does not hold the token")
    return "plaintext file ~/.anaconda/keyring (its own keyring backend)"


# ---------------------------------------------------------------- measuring


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {err[-1500:]}")
    return elapsed, usage.ru_maxrss


def rotations(n: int, items: int) -> list[list[int]]:
    """The order of ``items`` measurements in each of ``n`` rounds (rotating, so none is
    always first after the previous round's last)."""
    return [[(i + r) % items for i in range(items)] for r in range(n)]


@dataclass
class Row:
    name: str
    values: list[float]
    unit: str
    target: float | None = None  # the row passes when the median is <= target
    at_least: bool = False  # pass when the median (and every run, for counts) >= target
    every_run: bool = False  # the target must hold in every run, not just the median

    def cell(self) -> str:
        fmt = _fmt(self.unit)
        med = statistics.median(self.values)
        lo, hi = min(self.values), max(self.values)
        return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"

    def target_text(self) -> str:
        if self.target is None:
            return ""
        text = ("≥ " if self.at_least else "≤ ") + _fmt(self.unit)(self.target)
        return text + (" every run" if self.every_run else "")

    def status(self) -> str:
        if self.target is None:
            return ""
        values = self.values if self.every_run else [statistics.median(self.values)]
        if self.at_least:
            ok = all(v >= self.target for v in values)
        else:
            ok = all(v <= self.target for v in values)
        return "pass" if ok else "short"


def _fmt(unit: str) -> Callable[[float], str]:
    if unit == "x":
        return lambda v: f"{v:.3f}×"
    if unit == "ms":
        return lambda v: f"{v * 1e3:.1f} ms"
    if unit == "us":
        return lambda v: f"{v * 1e6:.1f} µs" if v < 1e-3 else f"{v * 1e3:.2f} ms"
    if unit == "MiB":
        return lambda v: f"{v / 1024:.1f} MiB"
    return lambda v: f"{v:.0f}"


def pairwise(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


# ---------------------------------------------------------------- the table


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}); "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def print_table(rows: list[Row], runs: int, notes: list[str], started: str) -> None:
    print(
        f"\nMachine: {machine()}. {runs} interleaved runs; median (min–max). "
        f"Load average at start {started}, at end {load_average()}.\n"
    )
    width = max(len(r.name) for r in rows)
    print(f"| {'measure'.ljust(width)} | median (min–max) | target | status |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for r in rows:
        print(f"| {r.name.ljust(width)} | {r.cell()} | {r.target_text()} | {r.status()} |")
    for note in notes:
        print(f"\n* {note}")
