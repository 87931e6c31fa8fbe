"""The user's configuration files in a test HOME."""

from __future__ import annotations

import textwrap
from pathlib import Path


def config_toml(home: Path) -> Path:
    """``~/.anaconda/config.toml`` of ``home``."""
    return home / ".anaconda" / "config.toml"


def write_config_toml(home: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``~/.anaconda/config.toml`` of ``home``; return the path."""
    path = config_toml(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def write_dotenv(home: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``.env`` in ``home`` (the working directory of tests)."""
    path = home / ".env"
    path.write_text(textwrap.dedent(text))
    return path
