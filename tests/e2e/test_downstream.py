"""anaconda-client 1.16.0 beside this package.

anaconda-client imports ``anaconda_auth.actions._do_auth_flow`` when the ``anaconda`` command
starts, and its commands run under anaconda-cli-base next to ``anaconda auth``: an import error
or a clash between the two plugins takes every ``anaconda`` command down. So this module
installs this checkout (non-editable, from a copy of its tracked and new files, as
dev/installed-copy.sh does) and ``anaconda-client==1.16.0`` from PyPI into a throwaway venv and
runs the real ``anaconda`` entry point as subprocesses, each with its own HOME, no
``ANACONDA_*`` variables and no network beyond a closed loopback port.

Skipped, with the reason, only when PyPI cannot provide anaconda-client 1.16.0. The venv takes
about 45 s with a warm pip cache; the commands a few seconds each.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.downstream import ROOT, DownstreamVenv, build_venv, program_env, run_program
from support.downstream import output as _output

CLIENT = "anaconda-client==1.16.0"
#: A loopback port nothing listens on: anaconda-client's requests fail at once, offline.
CLOSED_URL = "http://127.0.0.1:9/api"

Run = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def downstream(tmp_path_factory: pytest.TempPathFactory) -> DownstreamVenv:
    return build_venv(tmp_path_factory.mktemp("downstream"), [CLIENT])


@pytest.fixture
def run(downstream: DownstreamVenv, tmp_path: Path) -> Run:
    """``run("anaconda", "--help")``: a program of the venv, in a fresh HOME, no ANACONDA_*."""
    home = tmp_path / "home"
    home.mkdir()
    env = program_env(downstream, home, tmp_path)

    def run_one(program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run_program(downstream, env, program, *args)

    return run_one


def test_setup_time(downstream: DownstreamVenv) -> None:
    """The venv with both packages is ready in reasonable time (pip caches the wheels)."""
    print(f"downstream venv ready in {downstream.setup_seconds:.1f} s")
    assert downstream.setup_seconds < 300


def test_both_packages_installed_not_editable(run: Run) -> None:
    proc = run(
        "python",
        "-c",
        "import anaconda_auth, binstar_client, importlib.metadata as m;"
        "print(anaconda_auth.__file__);"
        "print(m.version('anaconda-client'))",
    )
    assert proc.returncode == 0, _output(proc)
    where, version = proc.stdout.split()
    assert "site-packages" in where and not where.startswith(str(ROOT)), where
    assert version == "1.16.0"


def test_anaconda_help_lists_auth(run: Run) -> None:
    """anaconda-client's start-up imports ``anaconda_auth.actions._do_auth_flow``."""
    proc = run("anaconda", "--help")
    assert proc.returncode == 0, _output(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, _output(proc)
    lines = proc.stdout.splitlines()
    assert any(line.strip(" │").startswith("auth ") for line in lines), _output(proc)
    # anaconda-client's own commands are there too.
    assert any(line.strip(" │").startswith("org ") for line in lines), _output(proc)
    assert any(line.strip(" │").startswith("upload ") for line in lines), _output(proc)


def test_anaconda_auth_help(run: Run) -> None:
    proc = run("anaconda", "auth", "--help")
    assert proc.returncode == 0, _output(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, _output(proc)
    for command in ("login", "logout", "whoami", "api-key"):
        assert command in proc.stdout, _output(proc)


def test_anaconda_client_config_command(run: Run) -> None:
    """A plain anaconda-client command (no network) works beside ``anaconda auth``."""
    proc = run("anaconda", "config", "--set", "url", CLOSED_URL)
    assert proc.returncode == 0, _output(proc)
    proc = run("anaconda", "config", "--get", "url")
    assert proc.returncode == 0, _output(proc)
    # anaconda-client logs its answers, on stderr.
    assert (proc.stdout + proc.stderr).strip() == CLOSED_URL, _output(proc)
    proc = run("anaconda", "config", "--show")
    assert proc.returncode == 0, _output(proc)
    assert f"url: {CLOSED_URL}" in proc.stdout + proc.stderr, _output(proc)


def test_anaconda_client_network_error_is_clean(run: Run) -> None:
    """anaconda-client's ``org auth`` against a closed port: exit 1 and a message, never a
    traceback (its errors pass through the handlers this package registers in cli-base)."""
    assert run("anaconda", "config", "--set", "url", CLOSED_URL).returncode == 0
    proc = run("anaconda", "org", "auth", "--list-scopes")
    assert proc.returncode == 1, _output(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, _output(proc)
    assert "127.0.0.1" in proc.stdout + proc.stderr, _output(proc)


DEPRECATION = (
    "DeprecationWarning: Please use anaconda org auth instead for explicit management of "
    "anaconda.org auth tokens"
)


class _OrgApi(http.server.BaseHTTPRequestHandler):
    """The two anaconda.org API endpoints ``auth --info`` and ``auth --list-scopes`` call."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append((self.path, self.headers.get("Authorization")))
        bodies = {
            "/api/authentication": {"application": "legacy-hand-off", "id": "tok-1234"},
            "/api/scopes": {"conda:download": "Download conda packages"},
        }
        body = bodies.get(self.path.split("?")[0])
        data = json.dumps(body if body is not None else {"error": "not here"}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def org_api() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A loopback HTTP server answering as anaconda.org's API: (its URL, requests seen)."""
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_OrgApi,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", seen
    finally:
        server.shutdown()
        server.server_close()


def test_legacy_option_hand_off(run: Run) -> None:
    """0.15: ``anaconda auth --list-scopes`` warns and runs anaconda-client's ``auth``."""
    assert run("anaconda", "config", "--set", "url", CLOSED_URL).returncode == 0
    proc = run("anaconda", "auth", "--list-scopes")
    both = proc.stdout + proc.stderr
    assert "No such option" not in both, _output(proc)
    assert DEPRECATION in proc.stderr, _output(proc)  # 0.15's text, on stderr
    assert "127.0.0.1" in both, _output(proc)  # anaconda-client tried its API
    assert "Traceback" not in both, _output(proc)
    assert proc.returncode == 1, _output(proc)
    assert "anaconda --verbose auth --list-scopes" in proc.stderr, _output(proc)


def test_legacy_hand_off_reaches_the_api_with_the_token(run: Run, org_api: Any) -> None:
    """The options and anaconda-client's top-level ``-t TOKEN`` arrive as anaconda-client's
    own ``auth`` command expects them: the API sees the token and the output is its answer."""
    url, seen = org_api
    assert run("anaconda", "config", "--set", "url", url).returncode == 0
    proc = run("anaconda", "-t", "legacy-token-5678", "auth", "--info")
    assert proc.returncode == 0, _output(proc)
    both = proc.stdout + proc.stderr
    assert "Name: legacy-hand-off" in both, _output(proc)
    assert "Id: tok-1234" in both, _output(proc)
    assert ("/api/authentication", "token legacy-token-5678") in seen, seen
    assert proc.stderr.startswith(DEPRECATION), _output(proc)

    # `anaconda cloud` (0.15's alias) hands off too: anaconda-client has no `cloud` command
    seen.clear()
    proc = run("anaconda", "cloud", "--list-scopes")
    assert proc.returncode == 0, _output(proc)
    assert "conda:download" in proc.stdout + proc.stderr, _output(proc)
    assert [path for path, _ in seen] == ["/api/scopes"], seen


def test_anaconda_client_parses_the_legacy_options(run: Run) -> None:
    """anaconda-client's argparse sees the options: its help, its usage errors (exit 2)."""
    assert run("anaconda", "config", "--set", "url", CLOSED_URL).returncode == 0
    proc = run("anaconda", "auth", "--list", "-h")
    assert proc.returncode == 0, _output(proc)
    assert "--list-scopes" in proc.stdout and "--max-age" in proc.stdout, _output(proc)
    assert "api-key" not in proc.stdout, _output(proc)  # not our help

    proc = run("anaconda", "auth", "--strength", "medium")
    assert proc.returncode == 2, _output(proc)
    assert "invalid choice: 'medium'" in proc.stderr, _output(proc)

    proc = run("anaconda", "auth", "--list", "--create")
    assert proc.returncode == 2, _output(proc)
    assert "not allowed with argument" in proc.stderr, _output(proc)

    # our own commands and options are still ours
    proc = run("anaconda", "auth", "api-key", "--name", "x")
    assert proc.returncode == 2, _output(proc)
    assert "No such option: --name" in proc.stdout + proc.stderr, _output(proc)
    assert DEPRECATION not in proc.stderr, _output(proc)
    proc = run("anaconda", "auth", "-V")
    assert proc.returncode == 0, _output(proc)
    assert proc.stdout.startswith("anaconda-auth, version "), _output(proc)


def test_invalid_sites_never_stop_anaconda(run: Run, tmp_path: Path) -> None:
    """anaconda-cli-base reads our site list when ``anaconda`` starts: an invalid site leaves
    anaconda-client's commands working, and ours report the error."""
    config = tmp_path / "home" / ".anaconda" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[sites.broken]\ndomain = []\n\n[plugin.auth]\nssl_verify = "maybe"\n')
    for args in (["--help"], ["org", "--help"], ["auth", "--help"]):
        proc = run("anaconda", *args)
        assert proc.returncode == 0, _output(proc)
        assert "Traceback" not in proc.stdout + proc.stderr, _output(proc)
    proc = run("anaconda", "config", "--set", "url", CLOSED_URL)
    assert proc.returncode == 0, _output(proc)
    proc = run("anaconda", "auth", "api-key")
    assert proc.returncode == 1, _output(proc)
    assert "ConfigError" in proc.stderr, _output(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, _output(proc)


def test_binstar_login_module_imports(run: Run) -> None:
    proc = run("python", "-c", "import binstar_client.commands.login")
    assert proc.returncode == 0, _output(proc)
