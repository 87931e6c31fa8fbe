"""An isolated home for anaconda-auth in a test: nothing of the real user's is read or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``ANACONDA_*`` variables a test keeps (they change nothing anaconda-auth reads).
KEPT_VARIABLES = frozenset({"ANACONDA_CLI_DISABLE_TELEMETRY"})


def isolate_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Point ``HOME``, ``config.toml``, the secrets directory and the keyring into ``home``, and
    drop every other ``ANACONDA_*`` variable, for the rest of the test."""
    for name in list(os.environ):
        if name.startswith("ANACONDA_") and name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("ANACONDA_CONFIG_TOML", str(home / ".anaconda" / "config.toml"))
    monkeypatch.setenv("ANACONDA_SECRETS_DIR", str(home / "no-secrets"))
    monkeypatch.setenv("ANACONDA_AUTH_KEYRING_PATH", str(home / ".anaconda" / "keyring"))
    return home
