"""The built-in configuration sources, registered through the ``anaconda_auth_config_sources``
hook exactly like a third party's.

=============  ====  ============================================================================
name           rank  values
=============  ====  ============================================================================
environment    600   ``ANACONDA_AUTH_<KEY>`` environment variables
secrets-dir    500   files named ``ANACONDA_AUTH_<KEY>`` in ``$ANACONDA_SECRETS_DIR``
                     (default ``/run/secrets``), if the directory exists
dotenv         400   ``ANACONDA_AUTH_<KEY>=...`` lines of ``.env`` in the working directory
site           300   the selected ``[sites.<name>]`` table of ``config.toml``
config-toml    200   ``[plugin.auth]`` of ``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml``
=============  ====  ============================================================================

Explicit arguments beat every source; field defaults lose to every source. Every ``load`` runs
each time a configuration is built: nothing here caches values (the file readers cache parsed
files by their modification stamp). An empty value (``ANACONDA_AUTH_API_KEY=``) counts as unset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from anaconda_auth._paths import (
    config_toml_path,
    display_path,
    dotenv_path,
    read_config_toml,
    read_dotenv,
    secrets_dir,
)
from anaconda_auth.config import ENV_PREFIX, SOURCE_RANKS
from anaconda_auth.config_loader import LocatedValues, read_sites
from anaconda_auth.exceptions import ConfigError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import ConfigSource, ConfigValues


def _env_name(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def _key(name: str) -> str | None:
    """``ANACONDA_AUTH_SSL_VERIFY`` -> ``ssl_verify``; ``None`` for other names."""
    if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
        return name[len(ENV_PREFIX) :].lower()
    return None


def load_environment(resolved: ConfigValues) -> dict[str, Any]:
    """``ANACONDA_AUTH_<KEY>`` variables (upper case, as the environment is case-sensitive)."""
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in os.environ.items()
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX) and value.strip()
    }


def load_secrets_dir(resolved: ConfigValues) -> LocatedValues:
    """One file per value, named like the environment variable (``ANACONDA_AUTH_API_KEY``;
    the case of the name is ignored, an exact upper-case name wins). The content, without
    surrounding white space, is the value. Other files are ignored."""
    directory = secrets_dir()
    values = LocatedValues()
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name != e.name.upper())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return values
    for entry in entries:
        key = _key(entry.name)
        if key is None or key in values:
            continue
        try:
            if not entry.is_file():
                continue
            with open(entry.path, encoding="utf-8") as fp:
                text = fp.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"Cannot read the secret file {entry.path}: {exc}. Fix its permissions or "
                f"remove it, or set ANACONDA_SECRETS_DIR to another directory."
            ) from None
        if text:
            values[key] = text
            values.locations[key] = entry.path
    return values


def load_dotenv(resolved: ConfigValues) -> LocatedValues:
    """``ANACONDA_AUTH_<KEY>=value`` lines of ``.env`` in the working directory (other names
    are for other tools and ignored; so are lines that cannot be parsed, unless they name an
    ``ANACONDA_AUTH_`` variable)."""
    values = LocatedValues()
    path = dotenv_path()
    if path is None:
        return values
    parsed = read_dotenv(path)
    for lineno, message, name in parsed.problems:
        if name is not None and _key(name) is not None:
            raise ConfigError(
                f"{display_path(path)} line {lineno} ({name}): {message}. Fix the line or "
                "remove it."
            )
    for name, (value, lineno) in parsed.values.items():
        if not name.startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX) or not value.strip():
            continue
        key = name[len(ENV_PREFIX) :].lower()
        values[key] = value
        values.locations[key] = f"{display_path(path)} line {lineno}: {name}"
    return values


def load_site(resolved: ConfigValues) -> LocatedValues:
    """The selected ``[sites.<name>]`` table: by ``site`` (a name or a domain) from a higher
    source, else the one site whose domain is the ``domain`` from a higher source, else
    ``$ANACONDA_DEFAULT_SITE``, the top-level ``default_site``, or the first site table."""
    tables = read_sites()
    name = tables.select(resolved)
    values = LocatedValues()
    if name is None:
        return values
    for key, value in tables.tables[name].items():
        if key != "site":
            values[key] = value
            values.locations[key] = tables.location(name, key)
    values["site"] = name
    if resolved.get("domain"):
        values.locations["site"] = f"{tables.location(name)} (its domain)"
    else:
        values.locations["site"] = tables.default_origin
    return values


def load_plugin_auth(resolved: ConfigValues) -> LocatedValues:
    """The ``[plugin.auth]`` table of ``config.toml``."""
    path = config_toml_path()
    data = read_config_toml(path)
    shown = display_path(path)
    plugin = data.get("plugin", {})
    table = plugin.get("auth", {}) if isinstance(plugin, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(
            f"Invalid [plugin.auth] in {shown}: expected a table of settings. Fix the file or "
            "point ANACONDA_CONFIG_TOML at another one."
        )
    return LocatedValues(table, {key: f"{shown} [plugin.auth] {key}" for key in table})


def _secret_where(key: str) -> str:
    return str(secrets_dir() / _env_name(key))


def _dotenv_where(key: str) -> str:
    path = dotenv_path()
    return f"{display_path(path) if path else '.env'}: {_env_name(key)}"


def _toml_where(key: str) -> str:
    return f"{display_path(config_toml_path())} [plugin.auth] {key}"


def _site_where(key: str) -> str:
    return f"{display_path(config_toml_path())} [sites.<selected>] {key}"


@hookimpl
def anaconda_auth_config_sources() -> Iterable[ConfigSource]:
    yield ConfigSource(
        "environment",
        SOURCE_RANKS["environment"],
        load_environment,
        "ANACONDA_AUTH_* environment variables",
        where=_env_name,
    )
    yield ConfigSource(
        "secrets-dir",
        SOURCE_RANKS["secrets-dir"],
        load_secrets_dir,
        "files named ANACONDA_AUTH_<KEY> in $ANACONDA_SECRETS_DIR (default /run/secrets)",
        where=_secret_where,
    )
    yield ConfigSource(
        "dotenv",
        SOURCE_RANKS["dotenv"],
        load_dotenv,
        "ANACONDA_AUTH_* lines of .env in the working directory",
        where=_dotenv_where,
    )
    yield ConfigSource(
        "site",
        SOURCE_RANKS["site"],
        load_site,
        "the selected [sites.<name>] table of config.toml",
        where=_site_where,
    )
    yield ConfigSource(
        "config-toml",
        SOURCE_RANKS["config-toml"],
        load_plugin_auth,
        "[plugin.auth] of $ANACONDA_CONFIG_TOML or ~/.anaconda/config.toml",
        where=_toml_where,
    )
