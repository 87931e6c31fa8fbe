"""Fresh interpreters for the tests that need one: ours, or the published anaconda-auth 0.15.3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path


def _ref_python() -> Path | None:
    """The published anaconda-auth 0.15.3: ``$ANACONDA_AUTH_REF_VENV`` (dev/test.sh sets it),
    ``/tmp/ref015`` or dev/test.sh's default location (read at import, before tests change
    HOME)."""
    for root in (
        os.environ.get("ANACONDA_AUTH_REF_VENV"),
        "/tmp/ref015",
        str(Path.home() / ".cache/anaconda-auth/ref-0.15.3"),
    ):
        if root and (Path(root) / "bin" / "python").exists():
            return Path(root) / "bin" / "python"
    return None


#: The interpreter of the published 0.15.3, or ``None`` where it is not installed.
REF_PYTHON = _ref_python()


def run_python(
    code: str,
    env: Mapping[str, str] | None = None,
    *,
    args: Sequence[str] = (),
    python: Path | str = sys.executable,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) as ``python -c code *args``: no stdin, output captured as text."""
    return subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        env=None if env is None else dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def modules_loaded_by(imports: Sequence[str], watched: Sequence[str]) -> list[str]:
    """The modules of ``watched`` (exact names, or top-level packages with any submodule) that
    a fresh interpreter holds after importing ``imports``: for "importing X is cheap" tests."""
    code = f"""
        import json, sys
        {"; ".join(f"import {name}" for name in imports)}
        watched = set(json.loads(sys.argv[1]))
        found = [m for m in sys.modules if m in watched or m.split(".")[0] in watched]
        print(json.dumps(sorted(found)))
        """
    out = run_python(code, args=[json.dumps(list(watched))])
    assert out.returncode == 0, out.stderr
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded
