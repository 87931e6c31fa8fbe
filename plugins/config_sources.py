"""Built-in configuration sources (minimal; see the config issue for the full set)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from anaconda_auth.config import SOURCE_RANKS
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import ConfigSource, ConfigValues

ENV_PREFIX = "ANACONDA_AUTH_"


def _load_env(resolved: ConfigValues) -> dict[str, Any]:
    return {
        k[len(ENV_PREFIX) :].lower(): v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)
    }


def _load_toml(resolved: ConfigValues) -> dict[str, Any]:
    from anaconda_auth._paths import read_config_toml

    table = read_config_toml().get("plugin", {}).get("auth", {})
    return dict(table)


@hookimpl
def anaconda_auth_config_sources() -> Iterable[ConfigSource]:
    yield ConfigSource(
        "environment",
        SOURCE_RANKS["environment"],
        _load_env,
        "ANACONDA_AUTH_* variables",
        where=lambda key: f"{ENV_PREFIX}{key.upper()}",
    )
    yield ConfigSource("config-toml", SOURCE_RANKS["config-toml"], _load_toml, "config.toml")
