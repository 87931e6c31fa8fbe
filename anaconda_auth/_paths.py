"""Where anaconda-auth looks for its files, and a cached reader for ``config.toml``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_toml_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def anaconda_dir() -> Path:
    return Path("~/.anaconda").expanduser()


def config_toml_path() -> Path:
    """``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml``, as anaconda-cli-base uses."""
    override = os.environ.get("ANACONDA_CONFIG_TOML")
    if override:
        return Path(override).expanduser()
    return anaconda_dir() / "config.toml"


def read_config_toml(path: Path | None = None) -> dict[str, Any]:
    """Parse the config file; an absent file is empty. Re-read only when it changes on disk.

    Raises ``tomllib.TOMLDecodeError`` (a ``ValueError``) for a malformed file; callers add
    the file name to the message.
    """
    path = path or config_toml_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _toml_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with path.open("rb") as fp:
        data = tomllib.load(fp)
    _toml_cache[path] = (stamp, data)
    return data
