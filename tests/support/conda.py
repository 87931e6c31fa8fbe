"""Real conda for tests/conda (the 26.7.1 wheel of ../shared/wheels, installed by
dev/install-conda.sh), run as subprocesses against the testing kit's channel, in the test's
isolated HOME.

Every test here needs conda importable in this venv; without it they are skipped with the
reason. Nothing reaches the network: the only channel is the kit's, on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support.cli import ANACONDA, CliResult, strip_ansi

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.idp import IdentityProvider

NO_CONDA = (
    "conda is not installed in this venv: run dev/install-conda.sh (it installs the conda wheel "
    "of ../shared/wheels; conda is not on PyPI)"
)
#: Variables that would make requests (and so conda) ignore the condarc's ssl_verify.
DROPPED = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "CONDA_", "XDG_CONFIG_HOME")


def conda_importable() -> bool:
    try:
        import conda  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class CondaRig:
    """Real conda pointed at the kit: ``run_conda``, ``run_anaconda``, ``conda_token``."""

    idp: IdentityProvider
    home: Path
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def condarc(self) -> Path:
        """The base condarc (``$CONDARC``): classic solver, no channels, the kit's CA."""
        return self.tmp / "condarc"

    @property
    def user_condarc(self) -> Path:
        """``~/.condarc``: where ``anaconda token`` and ``conda token`` write."""
        return self.home / ".condarc"

    def channel(self, name: str = "main") -> str:
        return self.idp.repo_url + name

    def map_handler(self, **extras: str) -> None:
        """channel_settings: the kit's host -> the anaconda-auth handler (plus ``extras``)."""
        lines = [f"  - channel: {self.idp.url}/*", "    auth: anaconda-auth"]
        lines += [f"    {key}: {value}" for key, value in extras.items()]
        with self.condarc.open("a") as fp:
            fp.write("channel_settings:\n" + "\n".join(lines) + "\n")

    def _run(self, cmd: list[str], input: str | None = None, **env: str) -> CliResult:
        proc = subprocess.run(
            cmd,
            env={**self.env, **env},
            input=input or "",
            capture_output=True,
            text=True,
            timeout=240,
            cwd=self.home,
        )
        return CliResult(cmd, proc.returncode, strip_ansi(proc.stdout), strip_ansi(proc.stderr))

    def run_conda(self, *args: str, **env: str) -> CliResult:
        return self._run([sys.executable, "-m", "conda", *args], **env)

    def search(self, channel: str, **env: str) -> CliResult:
        return self.run_conda(
            "search", "-c", channel, "--override-channels", "hello-anaconda", **env
        )

    def run_anaconda(self, *args: str, input: str | None = None, **env: str) -> CliResult:
        return self._run([ANACONDA, *args], input=input, **env)

    def conda_token_script(self, *args: str) -> CliResult:
        return self._run([str(Path(sys.executable).parent / "conda-token"), *args])

    def channel_requests(self) -> list[Any]:
        return [r for r in self.idp.requests if r.endpoint in ("channel", "channel_t")]
