"""anaconda-ai 0.7.0, anaconda-assistant-sdk 0.5.2 and anaconda-assistant-conda 0.6.0 beside
this package (anaconda-client 1.16.0 is in test_downstream.py).

Each package goes into its own throwaway venv with this checkout (non-editable), built once per
module (see support/downstream.py). The tests then use them as their users do, in subprocesses:

- every module of theirs that mentions ``anaconda_auth`` (found by reading the installed
  package, so a new one is not missed) imports;
- their command starts (``anaconda ai``; ``conda assist``; the SDK has none, so ``anaconda``
  with it installed);
- their clients, which subclass our ``BaseClient``, make authenticated requests to the local
  identity provider of ``anaconda_auth.plugins.testing`` (HOME and config.toml point at it and
  trust its CA through ``ssl_verify``): the requests arrive with ``Authorization: Bearer
  <the stored key>`` and their ``User-Agent``. Where a full answer is needed (a streamed chat
  completion, a 401 in anaconda-ai's own format), a second HTTPS server with the provider's
  certificate answers it; anaconda-ai's default backend (AI Navigator, a local app on plain
  HTTP with its own key) gets a loopback stand-in;
- the private names they use do the real work: anaconda-ai's error handler calls
  ``cli._login_required_message`` and ``cli._continue_with_login``; anaconda-assistant-conda's
  conda error handler patches ``anaconda_auth.cli.sys`` around a chat, and the login our
  handler starts there is ``anaconda_auth.cli.login``.

anaconda-assistant-conda needs conda, which is not on PyPI: the conda wheel of ../shared/wheels
is installed with dev/install-conda.sh (skipped, with its reason, without the wheel). Its pins
need one constraint that has nothing to do with anaconda-auth: fastmcp 2.8.1 (pinned by it and
anaconda-assistant-mcp) cannot be imported with pydantic 2.12 or later ("cannot specify both
default and default_factory"), so that venv gets ``pydantic<2.12`` (and pip then picks an
anaconda-cli-base that accepts it).

Skipped, with the reason, only when PyPI cannot provide a package. Each venv takes 20-60 s
with a warm pip cache.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.downstream import (
    ROOT,
    DownstreamVenv,
    build_venv,
    pip_env,
    program_env,
    run_program,
)
from support.downstream import output as _output
from support.https_server import EchoServer

AI = "anaconda-ai[sagemaker]==0.7.0"  # the extra: its SageMaker module imports anaconda_auth
SDK = "anaconda-assistant-sdk==0.5.2"
ASSISTANT_CONDA = "anaconda-assistant-conda==0.6.0"
#: fastmcp 2.8.1 fails to import with newer pydantic (see the module docstring).
FASTMCP_PYDANTIC = "pydantic<2.12"

LOGIN_REQUIRED = "Login is required to complete this action."

Run = Callable[..., "subprocess.CompletedProcess[str]"]


# -- the venvs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ai_venv(tmp_path_factory: pytest.TempPathFactory) -> DownstreamVenv:
    return build_venv(tmp_path_factory.mktemp("anaconda-ai"), [AI])


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory) -> DownstreamVenv:
    return build_venv(tmp_path_factory.mktemp("assistant-sdk"), [SDK])


def _install_conda(python: Path) -> None:
    """dev/install-conda.sh into ``python``'s venv; a skip with its words when it cannot."""
    proc = subprocess.run(
        [str(ROOT / "dev" / "install-conda.sh")],
        env={**pip_env(), "PYTHON": str(python)},
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    check = subprocess.run([str(python), "-c", "import conda"], capture_output=True, timeout=60)
    if check.returncode != 0:
        words = (proc.stdout + proc.stderr).strip().splitlines()
        pytest.skip(
            "anaconda-assistant-conda needs conda, which is not on PyPI: "
            + (words[-1] if words else f"dev/install-conda.sh exited {proc.returncode}")
        )


@pytest.fixture(scope="module")
def conda_venv(tmp_path_factory: pytest.TempPathFactory) -> DownstreamVenv:
    return build_venv(
        tmp_path_factory.mktemp("assistant-conda"),
        [ASSISTANT_CONDA, SDK, FASTMCP_PYDANTIC],
        prepare=_install_conda,
    )


# -- running their code against the provider ------------------------------------------------


def _write_config(home: Path, domain: str, ca_path: Path, extra: str = "") -> None:
    """config.toml: the site (domain, the provider's CA as ``ssl_verify``) and ``extra``."""
    config = Path(os.environ.get("ANACONDA_CONFIG_TOML") or home / ".anaconda" / "config.toml")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[plugin.auth]\ndomain = "{domain}"\nssl_verify = "{ca_path}"\n\n{extra}',
        encoding="utf-8",
    )


def _env_at(venv: DownstreamVenv, home: Path, tmp: Path) -> dict[str, str]:
    """The program environment in ``home`` (the fixture's isolated home), keeping the
    ``ANACONDA_*`` variables the fixture set for its files (keyring, secrets, config path);
    domain and CA come from config.toml."""
    env = program_env(venv, home, tmp)
    for name, value in os.environ.items():
        if name.startswith("ANACONDA_") and name not in (
            "ANACONDA_AUTH_DOMAIN",
            "ANACONDA_AUTH_SSL_VERIFY",
        ):
            env[name] = value
    return env


@pytest.fixture
def site(anaconda_idp: Any, anaconda_auth_home: Path) -> Iterator[dict[str, Any]]:
    """Config pointing at the provider; ``site["extra"]`` is appended by :func:`runner`."""
    yield {"domain": anaconda_idp.domain, "ca": anaconda_idp.ca_path, "extra": ""}


def runner(venv: DownstreamVenv, site: dict[str, Any], home: Path, tmp: Path) -> Run:
    """``run(program, *args, input=None, **env)`` in ``home`` with config.toml from ``site``."""

    def run(
        program: str, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        _write_config(home, site["domain"], site["ca"], site["extra"])
        return run_program(venv, {**_env_at(venv, home, tmp), **env}, program, *args, input=input)

    return run


def _requests_to(idp: Any, path: str) -> list[Any]:
    return [r for r in idp.requests if r.path == path]


def _modules_mentioning_anaconda_auth(venv: DownstreamVenv, *packages: str) -> list[str]:
    site_packages = venv.site_packages
    found = []
    for package in packages:
        for file in sorted((site_packages / package).rglob("*.py")):
            if "anaconda_auth" in file.read_text(encoding="utf-8", errors="replace"):
                parts = file.relative_to(site_packages).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found.append(".".join(parts))
    return found


IMPORT_EACH = """
import importlib, json, sys, traceback
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc()
print(json.dumps(failed))
"""


def _assert_all_import(run: Run, modules: list[str]) -> None:
    proc = run("python", "-W", "ignore", "-c", IMPORT_EACH, *modules)
    assert proc.returncode == 0, _output(proc)
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{name}:\n{tb}" for name, tb in failed.items())


# =============================================================================================
# anaconda-ai 0.7.0
# =============================================================================================

AI_MODELS_PATH = "/api/ai/model/org/models/model-data"


@pytest.fixture
def run_ai(ai_venv: DownstreamVenv, site: dict[str, Any], tmp_path: Path) -> Run:
    site["extra"] = '[plugin.ai]\nbackend = "ai-catalyst"\n'
    return runner(ai_venv, site, Path(os.environ["HOME"]), tmp_path)


def test_ai_modules_that_use_anaconda_auth_import(ai_venv: DownstreamVenv, run_ai: Run) -> None:
    modules = _modules_mentioning_anaconda_auth(ai_venv, "anaconda_ai")
    assert {
        "anaconda_ai.clients",
        "anaconda_ai.clients.base",
        "anaconda_ai.clients.ai_catalyst",
        "anaconda_ai.clients.anaconda_desktop",
        "anaconda_ai.integrations.sagemaker",
    } <= set(modules), modules
    _assert_all_import(run_ai, [*modules, "anaconda_ai.cli"])


def test_anaconda_ai_command_starts(run_ai: Run) -> None:
    proc = run_ai("anaconda", "--help")
    assert proc.returncode == 0, _output(proc)
    lines = [line.strip(" │") for line in proc.stdout.splitlines()]
    assert any(line.startswith("ai ") for line in lines), _output(proc)
    assert any(line.startswith("auth ") for line in lines), _output(proc)
    proc = run_ai("anaconda", "ai", "--help")
    assert proc.returncode == 0, _output(proc)
    assert "models" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_ai_catalyst_client_sends_our_key(
    run_ai: Run, anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """Their client (a ``BaseClient``) at the provider: our bearer key, their User-Agent; the
    account round trip through our ``BaseClient.email``; their ``api_key`` property reads the
    login through ``TokenInfo.load``."""
    script = (
        "from anaconda_ai.clients import AnacondaAIClient\n"
        "c = AnacondaAIClient()\n"
        "print(type(c).__name__)\n"
        "print(c.email)\n"
        "print(c.api_key == open('key').read())\n"
        "print(c.online)\n"
    )
    Path("key").write_text(anaconda_logged_in.api_key)
    proc = run_ai("python", "-W", "ignore", "-c", script)
    assert proc.returncode == 0, _output(proc)
    assert proc.stdout.split() == ["AICatalystClient", anaconda_logged_in.email, "True", "False"]
    bearer = f"Bearer {anaconda_logged_in.api_key}"
    for path in ("/api/account", "/api/ai/model/healthz"):
        (seen,) = _requests_to(anaconda_idp, path)
        assert seen.headers.get("Authorization") == bearer, (path, seen.headers)
        assert seen.headers.get("User-Agent", "").startswith("anaconda-ai/0.7.0"), seen.headers
        assert seen.headers.get("X-Anaconda-Api-Version") == "2"


def test_anaconda_ai_models_reaches_the_api_with_our_key(
    run_ai: Run, anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """``anaconda ai models``: the request carries the stored key; the provider has no model
    API, and the 404 ends in anaconda-ai's own error handler: a message, exit 1."""
    proc = run_ai("anaconda", "ai", "models")
    assert proc.returncode == 1, _output(proc)
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, _output(proc)
    assert "404" in both and AI_MODELS_PATH in both, _output(proc)
    (seen,) = _requests_to(anaconda_idp, AI_MODELS_PATH)
    assert seen.headers.get("Authorization") == f"Bearer {anaconda_logged_in.api_key}"
    assert seen.headers.get("User-Agent", "").startswith("anaconda-ai/0.7.0"), seen.headers


@pytest.fixture
def catalyst(anaconda_idp: Any) -> Iterator[EchoServer]:
    """An AI Catalyst stand-in (the provider's certificate) that answers 401 in its format."""
    server = EchoServer(anaconda_idp.tls)
    server.routes[AI_MODELS_PATH] = lambda req: (401, {}, {"detail": "Not authenticated"})
    with server:
        yield server


def test_anaconda_ai_login_required_uses_our_helpers(
    run_ai: Run, site: dict[str, Any], catalyst: EchoServer
) -> None:
    """Not logged in, the API answers 401: anaconda-ai's handler calls
    ``anaconda_auth.cli._login_required_message`` (0.15's first line) and
    ``_continue_with_login`` (no terminal: how to log in, exit 1)."""
    site["domain"] = catalyst.netloc
    proc = run_ai("anaconda", "ai", "models")
    assert proc.returncode == 1, _output(proc)
    both = proc.stdout + proc.stderr
    assert f"AuthenticationMissingError: {LOGIN_REQUIRED}" in both, _output(proc)
    assert "anaconda auth login" in both or "anaconda login" in both, _output(proc)
    assert "Traceback" not in both, _output(proc)
    (seen,) = [r for r in catalyst.requests if r.path == AI_MODELS_PATH]
    assert seen.header("Authorization") is None


class _NavigatorApi(http.server.BaseHTTPRequestHandler):
    """AI Navigator's local API (plain HTTP on loopback): ``GET /api`` gives its versions."""

    seen: list[tuple[str, str | None, str | None]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(
            (self.path, self.headers.get("Authorization"), self.headers.get("User-Agent"))
        )
        versions = {"version": "9.9.9", "mambaVersion": "2.0.0", "llamaCppVersion": "b1234"}
        data = json.dumps({"status": "success", "data": versions}).encode()
        self.send_response(200 if self.path == "/api" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def navigator() -> Iterator[tuple[int, list[tuple[str, str | None, str | None]]]]:
    """A loopback AI Navigator API: (its port, the requests seen)."""
    seen: list[tuple[str, str | None, str | None]] = []
    handler = type("Handler", (_NavigatorApi,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_ai_navigator_backend_sends_the_desktop_key_there_only(
    run_ai: Run, anaconda_idp: Any, anaconda_logged_in: Any, navigator: Any
) -> None:
    """The default backend: ``BaseClient(domain="localhost:<port>", api_key=<the app's key>)``
    moved to ``http://`` by assigning ``_base_uri`` (0.15's attribute). ``anaconda ai version``
    reaches it with the app's key; the stored login stays at its own site."""
    port, seen = navigator
    app_config = Path(os.environ["HOME"]) / ".local" / "share" / "ai-navigator" / "config.json"
    app_config.parent.mkdir(parents=True)
    app_config.write_text(
        json.dumps({"aiNavApiServerPort": port, "aiNavApiKey": "navigator-key-1234"})
    )
    proc = run_ai("anaconda", "ai", "version", "--backend", "ai-navigator", "--json")
    assert proc.returncode == 0, _output(proc)
    assert json.loads(proc.stdout)["AINavigator"] == "9.9.9", _output(proc)
    assert len(seen) == 1, seen
    path, authorization, user_agent = seen[0]
    assert path == "/api"
    assert authorization == "Bearer navigator-key-1234"
    assert (user_agent or "").startswith("anaconda-ai/0.7.0")
    assert anaconda_logged_in.api_key not in json.dumps(seen)


def test_sagemaker_resolves_the_stored_key(run_ai: Run, anaconda_logged_in: Any) -> None:
    """Its SageMaker integration reads the login with ``AnacondaAuthConfig`` + ``TokenInfo``."""
    script = (
        "from anaconda_ai.integrations.sagemaker import _resolve_api_key\n"
        "print(_resolve_api_key() == open('key').read())\n"
    )
    Path("key").write_text(anaconda_logged_in.api_key)
    proc = run_ai("python", "-W", "ignore", "-c", script)
    assert proc.returncode == 0, _output(proc)
    assert proc.stdout.strip() == "True", _output(proc)


# =============================================================================================
# anaconda-assistant-sdk 0.5.2
# =============================================================================================

COMPLETIONS_PATH = "/api/assistant/v3/completions"
ASSISTANT_CONFIG = "[plugin.assistant]\naccepted_terms = true\ndata_collection = false\n"

CHAT = """
import sys
from requests import HTTPError
from anaconda_assistant import ChatSession
session = ChatSession(**({"domain": sys.argv[1]} if len(sys.argv) > 1 else {}))
try:
    print("ANSWER:", session.chat("What is conda?"))
    print("USAGE:", session.usage["tokens_used"], session.usage["token_limit"])
except HTTPError as e:
    print("HTTPError:", e.response.status_code)
"""


@pytest.fixture
def run_sdk(sdk_venv: DownstreamVenv, site: dict[str, Any], tmp_path: Path) -> Run:
    site["extra"] = ASSISTANT_CONFIG
    return runner(sdk_venv, site, Path(os.environ["HOME"]), tmp_path)


def test_sdk_modules_that_use_anaconda_auth_import(sdk_venv: DownstreamVenv, run_sdk: Run) -> None:
    modules = _modules_mentioning_anaconda_auth(sdk_venv, "anaconda_assistant")
    assert {"anaconda_assistant.api_client", "anaconda_assistant.core"} <= set(modules), modules
    _assert_all_import(run_sdk, [*modules, "anaconda_assistant"])


def test_anaconda_command_starts_with_the_sdk(run_sdk: Run) -> None:
    """The SDK has no command of its own; ``anaconda`` still starts with it installed."""
    proc = run_sdk("anaconda", "auth", "--help")
    assert proc.returncode == 0, _output(proc)
    assert "api-key" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def _assert_assistant_request(
    header: Callable[[str], str | None], body: dict[str, Any], key: str, email: str
) -> None:
    assert header("Authorization") == f"Bearer {key}"
    assert (header("User-Agent") or "").startswith("anaconda-assistant/0.5.2")
    assert header("X-Client-Source") == "anaconda-cli-prod"
    assert header("X-Client-Version") == "0.5.2"
    assert body["session"]["user_id"] == email  # from /api/account, through BaseClient.email
    assert body["messages"][-1]["content"] == "What is conda?"


def test_sdk_chat_reaches_the_api_with_our_key(
    run_sdk: Run, anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """``ChatSession().chat()``: the account (our ``BaseClient``) and the completion request
    (their ``APIClient(BaseClient)``) both carry the stored key; the provider has no assistant
    API, so the chat ends in an ``HTTPError`` 404, as with 0.15."""
    proc = run_sdk("python", "-W", "ignore", "-c", CHAT)
    assert proc.returncode == 0, _output(proc)
    assert proc.stdout.strip().endswith("HTTPError: 404"), _output(proc)
    (account,) = _requests_to(anaconda_idp, "/api/account")
    assert account.headers.get("Authorization") == f"Bearer {anaconda_logged_in.api_key}"
    (seen,) = _requests_to(anaconda_idp, COMPLETIONS_PATH)
    assert seen.method == "POST"
    _assert_assistant_request(
        seen.headers.get, seen.json, anaconda_logged_in.api_key, anaconda_logged_in.email
    )


@pytest.fixture
def assistant_api(anaconda_idp: Any) -> Iterator[EchoServer]:
    """An assistant API stand-in (the provider's certificate) that streams an answer."""
    server = EchoServer(anaconda_idp.tls)
    answer = "conda is a package and environment manager.__TOKENS_42/1000__"
    server.routes[COMPLETIONS_PATH] = lambda req: (
        200,
        {"Content-Type": "text/plain; charset=utf-8"},
        answer,
    )
    with server:
        yield server


def test_sdk_chat_answer_at_its_own_domain(
    run_sdk: Run, anaconda_idp: Any, anaconda_logged_in: Any, assistant_api: EchoServer
) -> None:
    """``ChatSession(domain=...)`` with a login stored for that domain: the full answer comes
    back, and the key went to that domain only (the account still at the configured one)."""
    from anaconda_auth.token import TokenInfo

    TokenInfo(domain=assistant_api.netloc, api_key=anaconda_logged_in.api_key).save()
    proc = run_sdk("python", "-W", "ignore", "-c", CHAT, assistant_api.netloc)
    assert proc.returncode == 0, _output(proc)
    lines = proc.stdout.strip().splitlines()
    assert lines[-2:] == [
        "ANSWER: conda is a package and environment manager.",
        "USAGE: 42 1000",
    ], _output(proc)
    (seen,) = [r for r in assistant_api.requests if r.path == COMPLETIONS_PATH]
    _assert_assistant_request(
        seen.header, json.loads(seen.body), anaconda_logged_in.api_key, anaconda_logged_in.email
    )
    assert [r.path for r in assistant_api.requests] == [COMPLETIONS_PATH]
    assert len(_requests_to(anaconda_idp, "/api/account")) == 1


# =============================================================================================
# anaconda-assistant-conda 0.6.0
# =============================================================================================

CONDARC = "solver: classic\nchannels: []\nalways_yes: true\n"


@pytest.fixture
def run_conda_venv(conda_venv: DownstreamVenv, site: dict[str, Any], tmp_path: Path) -> Run:
    site["extra"] = ASSISTANT_CONFIG + 'debug_error_mode = "automatic"\n'
    condarc = tmp_path / "condarc"
    condarc.write_text(CONDARC)
    run = runner(conda_venv, site, Path(os.environ["HOME"]), tmp_path)

    def run_with_condarc(program: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run(program, *args, CONDARC=str(condarc), **env)

    return run_with_condarc


def test_assistant_conda_modules_that_use_anaconda_auth_import(
    conda_venv: DownstreamVenv, run_conda_venv: Run
) -> None:
    modules = _modules_mentioning_anaconda_auth(
        conda_venv, "anaconda_assistant_conda", "anaconda_assistant"
    )
    assert "anaconda_assistant_conda.core" in modules, modules
    _assert_all_import(run_conda_venv, [*modules, "anaconda_assistant_conda.plugin"])


def test_conda_assist_starts(run_conda_venv: Run) -> None:
    proc = run_conda_venv("python", "-W", "ignore", "-m", "conda", "assist", "--help")
    assert proc.returncode == 0, _output(proc)
    assert "Anaconda Assistant" in proc.stdout, _output(proc)
    assert "anaconda_auth" not in proc.stderr, _output(proc)


def _conda_failure(run: Run, **env: str) -> subprocess.CompletedProcess[str]:
    """A conda command that fails offline (no channel configured): conda's error handler, which
    anaconda-assistant-conda replaced, then asks the assistant (debug_error_mode automatic)."""
    return run(
        "python", "-W", "ignore", "-m", "conda", "search", "--offline", "no-such-package-xyz", **env
    )


def test_conda_error_handler_asks_the_assistant_with_our_key(
    run_conda_venv: Run, anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """The handler patches ``anaconda_auth.cli.sys`` and chats through our ``BaseClient``: the
    request carries the stored key and the failed command; the provider's 404 ends in our
    HTTPError handler (looked up in anaconda-cli-base's registry), never a traceback."""
    proc = _conda_failure(run_conda_venv)
    both = proc.stdout + proc.stderr
    assert proc.returncode == 1, _output(proc)
    assert "NoChannelsConfiguredError" in both, _output(proc)  # conda's own error first
    assert "AttributeError" not in both and "Traceback" not in both, _output(proc)
    assert "HTTPError" in both and "404" in both, _output(proc)
    (seen,) = _requests_to(anaconda_idp, COMPLETIONS_PATH)
    headers = seen.headers
    assert headers.get("Authorization") == f"Bearer {anaconda_logged_in.api_key}", headers
    assert headers.get("User-Agent", "").startswith("anaconda-assistant/0.5.2"), headers
    prompt = seen.json["messages"][-1]["content"]
    assert prompt.startswith("COMMAND:\n") and "no-such-package-xyz" in prompt, prompt


def test_conda_error_handler_logs_in_again_through_cli_login(
    run_conda_venv: Run, anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """A revoked key: the assistant's account request gets 401 ``auth_required``; our handler
    names it as 0.15 did and, since the patched ``anaconda_auth.cli.sys`` says "terminal",
    asks to log in (answered on stdin), runs ``anaconda_auth.cli.login`` (a browser login at
    the provider) and the chat runs again with the new key."""
    anaconda_idp.settings.auto_approve = True
    anaconda_idp.revoke_api_key(anaconda_logged_in.api_key)
    script = (
        "from unittest.mock import patch\n"
        "import anaconda_auth.cli\n"
        "from anaconda_assistant_conda.core import stream_response\n"
        "real, forced = anaconda_auth.cli.login, []\n"
        "def login(*args, **kwargs):\n"  # as their tests patch it, but calling the real one
        "    forced.append(kwargs.get('force'))\n"
        "    return real(*args, **kwargs)\n"
        "with patch('anaconda_auth.cli.login', login):\n"
        "    stream_response('system', 'What is conda?', is_a_tty=True)\n"
        "print('LOGINS:', forced)\n"
    )
    proc = run_conda_venv(
        "python",
        "-W",
        "ignore",
        "-c",
        script,
        input="y\n",
        BROWSER=anaconda_idp.browser_command,
        ANACONDA_AUTH_REDIRECT_URI="http://127.0.0.1:0/auth/oidc",
    )
    both = proc.stdout + proc.stderr
    assert "InvalidAuthentication" in both, _output(proc)
    assert "Continue with interactive login?" in both, _output(proc)
    assert "Traceback" not in both, _output(proc)
    accounts = _requests_to(anaconda_idp, "/api/account")
    assert len(accounts) == 2, [r.headers.get("Authorization") for r in accounts]
    old, new = (r.headers.get("Authorization") for r in accounts)
    assert old == f"Bearer {anaconda_logged_in.api_key}"
    assert new is not None and new.startswith("Bearer ") and new != old
    (seen,) = _requests_to(anaconda_idp, COMPLETIONS_PATH)
    assert seen.headers.get("Authorization") == new
    assert "HTTPError" in both and "404" in both, _output(proc)
    assert "LOGINS: [True]" in proc.stdout, _output(proc)


def test_conda_error_handler_terms_prompt_reads_cli_sys(
    run_conda_venv: Run, site: dict[str, Any], anaconda_idp: Any, anaconda_logged_in: Any
) -> None:
    """Terms not accepted yet: the SDK raises before any request, and anaconda-assistant-conda's
    handler for that reads ``anaconda_auth.cli.sys.stdout.isatty()`` (patched: not a terminal)
    and prints the terms text instead of prompting (this package once raised ``AttributeError``
    there)."""
    site["extra"] = '[plugin.assistant]\ndebug_error_mode = "automatic"\n'
    proc = _conda_failure(run_conda_venv)
    both = proc.stdout + proc.stderr
    assert proc.returncode == 1, _output(proc)
    assert "You have not accepted the terms of service." in both, _output(proc)
    assert "AttributeError" not in both and "Traceback" not in both, _output(proc)
    assert _requests_to(anaconda_idp, COMPLETIONS_PATH) == []
