"""The interactive side of the CLI, on a real pseudo-terminal: the "Continue with interactive
login?" prompt, the login it runs, the one retry of the command, and the spinner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PROMPT = "Continue with interactive login? [y/n]"


@pytest.mark.parametrize("standalone", [False, True], ids=["anaconda", "python-m"])
def test_yes_logs_in_and_retries_the_command(
    run_pty: Any, anaconda_auth_home: Path, anaconda_idp: Any, standalone: bool
) -> None:
    code, out = run_pty("whoami", answers=[(PROMPT, "y\n")], standalone=standalone)
    assert code == 0, out
    assert "TokenNotFoundError: Login is required to complete this action." in out
    assert out.count(PROMPT) == 1
    assert "Opening your browser" in out
    assert "Logged in. Running the command again." in out
    # the retried command printed the user, after the login
    assert out.index("Alice Example <alice@example.com>") > out.index("Logged in.")
    assert len(anaconda_idp.requests_to("account")) == 1
    assert "--verbose" not in out


def test_no_prints_how_to_log_in(run_pty: Any, anaconda_auth_home: Path, anaconda_idp: Any) -> None:
    code, out = run_pty("api-key", answers=[(PROMPT, "n\n")])
    assert code == 1, out
    assert "To log in, run" in out
    assert "anaconda auth login" in out
    assert "ANACONDA_AUTH_API_KEY" in out
    assert "anaconda --verbose auth api-key" in out
    assert not anaconda_idp.requests_to("authorize")


def test_the_command_is_retried_only_once(
    run_pty: Any, anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    # every key the provider mints is already expired, so logging in cannot help
    anaconda_idp.settings.api_key_lifetime = -60
    code, out = run_pty("whoami", answers=[(PROMPT, "y\n")])
    assert code == 1, out
    assert out.count(PROMPT) == 1
    assert "TokenExpiredError: Your login token has expired" in out
    assert "Logging in again did not help." in out
    assert "anaconda --verbose auth whoami" in out
    assert len(anaconda_idp.requests_to("api_keys")) == 1


def test_login_when_logged_in_asks_before_logging_in_again(
    run_pty: Any, anaconda_logged_in: Any, anaconda_idp: Any
) -> None:
    code, out = run_pty("login", answers=[("Log in again? [y/n] (n)", "y\n")])
    assert code == 0, out
    assert f"already logged in to {anaconda_idp.domain}" in out
    assert anaconda_idp.requests_to("authorize")

    anaconda_idp.clear_requests()
    code, out = run_pty("login", answers=[("Log in again? [y/n] (n)", "\n")])
    assert code == 0, out
    assert "anaconda auth login --force" in out
    assert not anaconda_idp.requests_to("authorize")


def test_spinner_while_waiting_for_device_approval(
    run_pty: Any, anaconda_auth_home: Path, anaconda_idp: Any
) -> None:
    anaconda_idp.settings.device_auto_approve = False
    anaconda_idp.settings.auto_approve = False  # the $BROWSER's visit must not approve it first
    # Approved once the spinner shows: rich draws a frame together with the message.
    code, out = run_pty(
        "login", "--device", answers=[("Waiting for you to approve", anaconda_idp.approve_device)]
    )
    assert code == 0, out
    assert "and enter the code:" in out
    assert "Waiting for you to approve" in out
    assert any(frame in out for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), "no spinner frames"
    assert f"Logged in to {anaconda_idp.domain}" in out
