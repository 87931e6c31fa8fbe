"""Secrets of a login never appear in output, log records, reprs or exception messages.

Every logger runs at DEBUG (urllib3 included) and stdout/stderr are captured at the file
descriptor level. The secrets are read back from what the identity provider received (the
code, the verifier, the device code, the access token as Bearer), from its refresh-token
table, and from storage (the API key). Records of the provider's own loggers (authlib,
werkzeug, ``anaconda_auth.testing``) are left out: the provider runs in this process and
its server-side logs are not the client's output.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

import pytest
from support.login import Browser

from anaconda_auth.actions import current_token, login
from anaconda_auth.exceptions import AuthenticationError
from anaconda_auth.flows.api_keys import APIKeyError

PROVIDER_LOGGERS = ("authlib", "werkzeug", "anaconda_auth.testing", "anaconda_auth.plugins.testing")
#: Any JWT (access token, ID token, API key): header and payload are base64url JSON objects.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.")

pytestmark = pytest.mark.usefixtures("fresh_discovery")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "anaconda_auth", "filelock", "keyring"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def env(fake_browser: Browser, anaconda_idp: Any) -> Any:
    """The provider, approving browser and device logins at once; ``$BROWSER`` is the fake."""
    anaconda_idp.settings.device_auto_approve = True
    return anaconda_idp


def client_output(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything the client wrote: log messages (with tracebacks) and stdout/stderr."""
    parts = []
    for record in caplog.records:
        if record.name.startswith(PROVIDER_LOGGERS):
            continue
        parts.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    out, err = capfd.readouterr()
    return "\n".join([*parts, out, err])


def provider_secrets(idp: Any) -> dict[str, str]:
    """The secrets the provider saw from (or issued to) the client during this test."""
    found: dict[str, str] = {}
    for request in idp.requests:
        for key in ("code", "code_verifier", "device_code", "refresh_token"):
            if request.form.get(key):
                found[f"{key} ({request.endpoint})"] = request.form[key]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and request.endpoint in ("api_keys", "iam_api_keys"):
            found["access token"] = auth.split(" ", 1)[1]
    with idp.state.lock:
        for token in idp.state.refresh_tokens:
            found["refresh token"] = token
    return found


def assert_secret_free(text: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert len(value) >= 16, name
        assert value not in text, f"the {name} leaked"
    match = JWT.search(text)
    assert match is None, f"a JWT leaked: {text[max(0, match.start() - 80) : match.end()]}"


def exception_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


def test_browser_login_leaks_nothing(
    env: Any, debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    login(device=False)  # the plain UI prints to stderr
    info = current_token()
    secrets = provider_secrets(env)
    assert info.api_key
    secrets["api key"] = info.api_key
    assert {"code (token)", "code_verifier (token)", "access token", "refresh token"} <= set(
        secrets
    )
    text = client_output(debug_logs, capfd)
    assert "urllib3.connectionpool DEBUG" in text  # the urllib3 request lines were captured
    assert "/authorize?" in text  # and what the UI printed
    assert_secret_free(text + repr(info) + str(info.model_dump(exclude={"api_key"})), secrets)


def test_device_login_leaks_nothing(
    env: Any, debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    login(device=True)
    secrets = provider_secrets(env)
    secrets["api key"] = current_token().api_key or ""
    assert "device_code (token)" in secrets and "access token" in secrets
    text = client_output(debug_logs, capfd)
    assert "enter the code" in text
    assert_secret_free(text, secrets)


def test_a_failed_code_exchange_leaks_nothing(
    env: Any, debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    env.faults.status["token"] = 400
    with pytest.raises(AuthenticationError) as info:
        login(device=False)
    secrets = provider_secrets(env)
    assert "code (token)" in secrets and "code_verifier (token)" in secrets
    assert_secret_free(client_output(debug_logs, capfd) + exception_text(info.value), secrets)


def test_an_api_key_in_a_wrong_reply_is_not_quoted(
    env: Any, debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The mint endpoint answers 200 (not 201) with a real key in the body: the error names
    the status, never the body."""
    env.faults.api_key_status = 200
    with pytest.raises(APIKeyError) as info:
        login(device=True)
    assert "HTTP 200" in str(info.value)
    assert len(env.minted_api_keys) == 1  # a key was really in the reply
    assert_secret_free(
        client_output(debug_logs, capfd) + exception_text(info.value), provider_secrets(env)
    )


def test_reprs_hide_secrets() -> None:
    from anaconda_auth.flows.browser import PKCE
    from anaconda_auth.flows.redirect_server import RedirectServer
    from anaconda_auth.flows.tokens import TokenSet
    from anaconda_auth.http.auth import BearerAuth
    from anaconda_auth.token import TokenInfo

    pkce = PKCE.new()
    tokens = TokenSet(
        access_token="access-" + "a" * 20,
        refresh_token="refresh-" + "r" * 20,
        id_token="id-" + "i" * 20,
    )
    server = RedirectServer(
        "http://127.0.0.1:0/cb",
        state="state-" + "s" * 20,
        success_url="https://x/ok",
        error_url="https://x/err",
    )
    info = TokenInfo(domain="example.com", api_key="key-" + "k" * 20)
    text = " ".join(
        [repr(pkce), repr(tokens), repr(BearerAuth("bearer-" + "b" * 20)), repr(server), repr(info)]
    )
    for secret in (pkce.verifier, "a" * 20, "r" * 20, "i" * 20, "b" * 20, "s" * 20, "k" * 20):
        assert secret not in text
    assert pkce.challenge in text  # the challenge is public
