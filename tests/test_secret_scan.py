"""Every command, with secrets planted everywhere they can be configured or stored, never
prints one: not on stdout or stderr, not with ``--verbose``, not in a log
record at DEBUG. The one exception by design is ``anaconda auth api-key``, whose stdout *is*
the key.

The commands run in-process through anaconda-cli-base's real ``anaconda`` app against the
local identity provider. The table below must name every command of ``anaconda auth`` and
``anaconda sites``: a new command fails :func:`test_every_command_is_scanned` until it is
added here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from anaconda_auth.token import TokenInfo

HEADER_SECRET = "hdr-secret-5b0e"
PROXY_SECRET = "proxy-secret-77c1"
KEYRING_SECRET = "keyring-secret-3a9f"
REPO_SECRET = "repo-secret-c4d2"

#: Every invocation, by (app, command). ``None``: covered elsewhere with a reason.
INVOCATIONS: dict[tuple[str, str], list[list[str]] | None] = {
    ("auth", "api-key"): [["auth", "api-key"]],
    ("auth", "config"): [["auth", "config"], ["auth", "config", "--json"]],
    ("auth", "plugins"): [["auth", "plugins"], ["auth", "plugins", "--json"]],
    ("auth", "status"): [["auth", "status"], ["auth", "status", "--json"]],
    ("auth", "whoami"): [["auth", "whoami"], ["auth", "whoami", "--json"]],
    ("sites", "list"): [["sites", "list"]],
    ("sites", "show"): [["sites", "show", "--show-hidden"], ["sites", "show", "--all"]],
    ("sites", "add"): [["sites", "add", "--domain", "scan.example", "--name", "scan", "--yes"]],
    ("sites", "modify"): [
        ["sites", "modify", "--name", "scan", "--domain", "scan2.example", "--yes"]
    ],
    ("sites", "remove"): [["sites", "remove", "scan", "--yes"]],
    # last: a new login (a new key, which joins the secrets), then the logout
    ("auth", "login"): [["auth", "login"], ["auth", "login", "--force", "--device"]],
    ("auth", "switch"): [["auth", "switch"], ["auth", "switch", "nobody@example.com"]],
    ("auth", "logout"): [["auth", "logout"]],
}


def _commands(module: str) -> set[str]:
    import importlib

    group: Any = get_command(importlib.import_module(module).app)
    return set(group.commands)


def test_every_command_is_scanned() -> None:
    scanned = {(app, name) for app, name in INVOCATIONS}
    assert {("auth", c) for c in _commands("anaconda_auth.plugins.cli")} <= scanned
    assert {("sites", c) for c in _commands("anaconda_auth.plugins.cli.sites")} <= scanned


@pytest.fixture
def planted(
    anaconda_logged_in: Any, anaconda_idp: Any, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Secrets in the environment, the configuration and the store; returns them all."""
    anaconda_idp.settings.device_auto_approve = True
    monkeypatch.setenv("ANACONDA_AUTH_EXTRA_HEADERS", json.dumps({"X-Api-Key": HEADER_SECRET}))
    monkeypatch.setenv(
        "ANACONDA_AUTH_PROXY_SERVERS",
        json.dumps({"http": f"http://scan:{PROXY_SECRET}@127.0.0.1:9"}),
    )
    monkeypatch.setenv(
        "ANACONDA_AUTH_KEYRING",
        json.dumps({"Anaconda Cloud": {"elsewhere.example": KEYRING_SECRET}}),
    )
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    info = TokenInfo.load(anaconda_logged_in.domain)
    info.set_repo_token("acme", REPO_SECRET)
    info.save()
    return [HEADER_SECRET, PROXY_SECRET, KEYRING_SECRET, REPO_SECRET, anaconda_logged_in.api_key]


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_no_command_prints_a_secret(
    planted: list[str], verbose: bool, caplog: pytest.LogCaptureFixture, anaconda_idp: Any
) -> None:
    from anaconda_cli_base.cli import app

    domain = anaconda_idp.domain
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    for (_, command), runs in INVOCATIONS.items():
        for args in runs or []:
            argv = (["--verbose"] if verbose else []) + args
            result = runner.invoke(app, argv, input="n\n", prog_name="anaconda")
            shown = result.stderr + ("" if command == "api-key" else result.stdout)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                shown += repr(result.exception) + str(result.exception)
            stored = _stored_key(domain)
            if stored is not None and stored not in planted:
                planted.append(stored)
            for secret in planted:
                assert secret not in shown, f"`anaconda {' '.join(argv)}` showed a secret"
            if command == "api-key":
                assert result.stdout.strip() == stored  # only the key, and on stdout
    assert len(planted) == 6, "the device login did not store a new key"
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in planted:
        assert secret not in logged


def _stored_key(domain: str) -> str | None:
    from anaconda_auth.exceptions import TokenNotFoundError

    try:
        return TokenInfo.load(domain).api_key
    except TokenNotFoundError:
        return None
