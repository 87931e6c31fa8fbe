"""The built-in configuration sources, registered through the ``anaconda_auth_config_sources``
hook exactly like a third party's.

=============  ====  ============================================================================
name           rank  values
=============  ====  ============================================================================
environment    600   ``ANACONDA_AUTH_<KEY>`` environment variables
secrets-dir    500   files named ``ANACONDA_AUTH_<KEY>`` in ``$ANACONDA_SECRETS_DIR``
                     (default ``/run/secrets``), if the directory exists
dotenv         400   ``ANACONDA_AUTH_<KEY>=...`` lines of ``.env`` in the working directory,
                     ``${VAR}`` expanded
site           300   the selected ``[sites.<name>]`` table of ``config.toml``
legacy-env     250   deprecated ``ANACONDA_CLOUD_<KEY>`` names (environment, then secret files,
                     then ``.env``)
config-toml    200   ``[plugin.auth]`` of ``$ANACONDA_CONFIG_TOML`` or ``~/.anaconda/config.toml``
legacy-toml    150   the deprecated ``[plugin.cloud]`` table of the same file
conda          100   conda's ``proxy_servers``, ``client_ssl_cert``, ``client_ssl_cert_key`` and
                     ``ssl_verify``, when conda is installed
=============  ====  ============================================================================

In the environment, secret files and ``.env`` (modern and legacy names), names are read in any
case (the upper-case spelling wins when a key is set in several), and ``<TABLE>__<ENTRY>`` sets
one entry of a table field (:data:`NESTED_FIELDS`), as anaconda-auth 0.15's pydantic-settings
did.

Explicit arguments beat every source; field defaults lose to every source. Every ``load`` runs
each time a configuration is built: nothing here caches values (the file readers cache parsed
files by their modification stamp). An empty value (``ANACONDA_AUTH_API_KEY=``) counts as unset.

The legacy sources keep what anaconda-auth 0.15 read working. Each sits just below its
modern counterpart, so a modern setting always wins; a deprecated value that is actually used
(no higher source set the key) raises a ``DeprecationWarning`` that starts with 0.15's own text
(:data:`LEGACY_015_TEXT`) and then names the modern spelling, and is logged once per process. The
conda source is not deprecated and never warns: it lets the proxy and TLS settings of
``.condarc`` apply when nothing else sets them (conda's proxy entries merge under a configured
``proxy_servers`` table, as every table merges across sources: decision 0032). It costs nothing
when conda is not installed (one ``importlib.util.find_spec`` per process) and reads conda's
settings once per process when it is.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Container, Iterable
from pathlib import Path
from typing import Any

from anaconda_auth.config.constants import (
    ENV_PREFIX,
    FIELD_NAMES,
    LEGACY_ENV_PREFIX,
    NESTED_DELIMITER,
    NESTED_FIELDS,
    SOURCE_RANKS,
    TABLE_FIELDS,
)
from anaconda_auth.config.files import (
    config_toml_shown,
    display_path,
    dotenv_path,
    find_config_toml,
    read_config_toml,
    read_dotenv,
    secrets_dir,
)
from anaconda_auth.config.loader import LocatedValues, as_table, merge_tables, parse_json
from anaconda_auth.config.site_tables import read_sites
from anaconda_auth.exceptions import ConfigError
from anaconda_auth.hookspecs import hookimpl
from anaconda_auth.plugin_types import ConfigSource, ConfigValues

log = logging.getLogger(__name__)


def _env_name(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def _key(name: str, prefix: str = ENV_PREFIX) -> str | None:
    """``ANACONDA_AUTH_SSL_VERIFY`` (in any case) -> ``ssl_verify``; ``None`` for other names."""
    if name.upper().startswith(prefix) and len(name) > len(prefix):
        return name[len(prefix) :].lower()
    return None


def _preferred(name: str) -> tuple[bool, str]:
    """Sort key of the spellings of one name: the exact upper-case spelling first, then the
    others in code-point order (``Anaconda_Auth_X`` before ``anaconda_auth_x``)."""
    return (name != name.upper(), name)


def _collect(
    candidates: Iterable[tuple[str, str]],
    read: Callable[[str], str],
    prefix: str = ENV_PREFIX,
    skip: Container[str] = (),
) -> LocatedValues:
    """Values from ``(name, location)`` candidates whose name is ``prefix`` + a key, in any
    case; ``read(name)`` gives the text. One spelling per key is used (:func:`_preferred`);
    an empty text counts as unset. ``<FIELD>__<ENTRY>`` names of the table fields
    (:data:`NESTED_FIELDS`) set one entry of that table, merged over the table the same
    source gives as a whole (a JSON object); keys in ``skip`` are not read."""
    values = LocatedValues()
    nested: dict[str, dict[str, tuple[str, str]]] = {}
    keyed = [(name, location, _key(name, prefix)) for name, location in candidates]
    for name, location, key in sorted(
        ((n, loc, k) for n, loc, k in keyed if k is not None and k not in skip),
        key=lambda c: _preferred(c[0]),
    ):
        assert key is not None
        field, delimiter, entry = key.partition(NESTED_DELIMITER)
        if delimiter and field in NESTED_FIELDS and entry:
            if entry in nested.get(field, {}):
                continue
            text = read(name)
            if text.strip():
                nested.setdefault(field, {})[entry] = (text.strip(), location)
            continue
        if key in values:
            continue
        text = read(name)
        if text.strip():
            values[key] = text
            values.locations[key] = location
    for field, entries in nested.items():
        table = values.get(field)
        if isinstance(table, str):
            try:
                table = parse_json(table)
            except ValueError:
                continue  # the validator reports the malformed table, naming its source
        if table is not None and not isinstance(table, dict):
            continue
        merged = dict(table or {})
        merged.update({entry: text for entry, (text, _) in entries.items()})
        shown = ", ".join(location for _, location in sorted(entries.values(), key=str))
        if field in values:
            shown = f"{values.locations[field]}, {shown}"
        values[field] = merged
        values.locations[field] = shown
    return values


def load_environment(resolved: ConfigValues) -> LocatedValues:
    """``ANACONDA_AUTH_<KEY>`` variables, the name in any case (as anaconda-auth 0.15 read
    them); when a name is set in several spellings, the upper-case one wins, else the first in
    code-point order. ``ANACONDA_AUTH_<TABLE>__<ENTRY>`` sets one entry of a table."""
    environ = os.environ
    return _collect(((name, name) for name in environ), environ.__getitem__)


def _secret_candidates(directory: Path, prefix: str) -> list[tuple[str, str]]:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    except OSError as exc:  # a name too long, an I/O error...
        raise ConfigError(
            f"Cannot read the secrets directory {str(directory)[:200]}: {exc.strerror or exc}. "
            "Set ANACONDA_SECRETS_DIR to another directory."
        ) from None
    found = []
    for entry in entries:
        if _key(entry.name, prefix) is None:
            continue
        try:
            if entry.is_file():
                found.append((entry.name, entry.path))
        except OSError:
            continue
    return found


def _read_secret(directory: Path) -> Callable[[str], str]:
    def read(name: str) -> str:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8-sig") as fp:  # a BOM (Windows editors) is dropped
                return fp.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"Cannot read the secret file {path}: {exc}. Fix its permissions or "
                f"remove it, or set ANACONDA_SECRETS_DIR to another directory."
            ) from None

    return read


def load_secrets_dir(resolved: ConfigValues) -> LocatedValues:
    """One file per value, named like the environment variable (``ANACONDA_AUTH_API_KEY``;
    the case of the name is ignored, an exact upper-case name wins). The content, without
    surrounding white space, is the value. Other files are ignored."""
    directory = secrets_dir()
    return _collect(_secret_candidates(directory, ENV_PREFIX), _read_secret(directory))


def _dotenv_values(path: Path, prefix: str) -> LocatedValues:
    parsed = read_dotenv(path)
    lines = {name: (value, lineno) for name, (value, lineno) in parsed.values.items()}
    return _collect(
        ((name, f"{display_path(path)} line {lines[name][1]}: {name}") for name in lines),
        lambda name: lines[name][0],
        prefix,
    )


def load_dotenv(resolved: ConfigValues) -> LocatedValues:
    """``ANACONDA_AUTH_<KEY>=value`` lines of ``.env`` in the working directory, the name in
    any case, ``${VAR}`` expanded (other names are for other tools and ignored; so are lines
    that cannot be parsed, unless they name an ``ANACONDA_AUTH_`` variable)."""
    path = dotenv_path()
    if path is None:
        return LocatedValues()
    for lineno, message, name in read_dotenv(path).problems:
        if name is not None and _key(name) is not None:
            raise ConfigError(
                f"{display_path(path)} line {lineno} ({name}): {message}. Fix the line or "
                "remove it."
            )
    return _dotenv_values(path, ENV_PREFIX)


def load_site(resolved: ConfigValues) -> LocatedValues:
    """The selected ``[sites.<name>]`` table: by ``site`` (a name or a domain) from a higher
    source, else the one site whose domain is the ``domain`` from a higher source, else
    ``$ANACONDA_DEFAULT_SITE``, the top-level ``default_site``, or the first site table."""
    tables = read_sites()
    locations = getattr(resolved, "locations", None)
    origin = locations.get("site") if isinstance(locations, dict) else None
    name = tables.select(resolved, origin)
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
    path = find_config_toml()
    if path is None:  # no home directory: no file
        return LocatedValues()
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


# --- legacy sources (anaconda-auth 0.15 compatibility) -------------------------------------

#: conda setting -> our key, as anaconda-auth 0.15 mapped them.
CONDA_KEYS: dict[str, str] = {
    "proxy_servers": "proxy_servers",
    "client_ssl_cert": "client_cert",
    "client_ssl_cert_key": "client_cert_key",
    "ssl_verify": "ssl_verify",
}

_logged: set[str] = set()


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside anaconda-auth (for the caller of
    ``_deprecated``), so the warning points at the code that built the configuration."""
    frame = sys._getframe(2)  # the caller of _deprecated
    level = 2
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(
        "anaconda_auth"
    ):
        frame = frame.f_back
        level += 1
    return level


#: anaconda-auth 0.15's text for a field set by a legacy name, word for word (``{fields}``:
#: the quoted field names, comma-separated).
LEGACY_015_TEXT = (
    "The following fields have been set using legacy environment variables "
    "prefixed with 'ANACONDA_CLOUD_` or in the `plugins.cloud` section "
    "of `~/.anaconda/config.toml`: {fields}\n\n"
    "Please either rename environment variables to the corresponding "
    "`ANACONDA_AUTH_` version, or replace the `plugins.cloud` section "
    "of the config file with `plugins.auth`."
)


def _deprecated(what: str, instead: str, key: str) -> None:
    """Warn that a deprecated spelling is in use (the message never holds a value). The
    warning starts with anaconda-auth 0.15's text, word for word (warning filters and code
    written for 0.15 match on its start), followed by our sentence naming the exact place;
    the log line is our sentence only, once per process."""
    message = f"{what} is deprecated and will stop working in a future anaconda-auth; {instead}."
    full = f"{LEGACY_015_TEXT.format(fields=f'{chr(34)}{key}{chr(34)}')}\n\n{message}"
    warnings.warn(full, DeprecationWarning, stacklevel=_caller_level())
    if message not in _logged:  # DeprecationWarning is hidden by default: say it once
        _logged.add(message)
        log.warning("%s", message)


def _warn_legacy(
    values: LocatedValues, resolved: ConfigValues, instead: Callable[[str], str]
) -> None:
    for key in _unused_fields(values, resolved):
        _deprecated(values.locations[key], instead(key), key)


def _unused_fields(values: dict[str, Any], resolved: ConfigValues) -> list[str]:
    """The keys of ``values`` that will be used: fields no higher source has set, and tables
    with an entry no higher source's table has (entries merge across sources)."""
    return [
        key
        for key in values
        if key in FIELD_NAMES and (key not in resolved or _adds_entries(key, values, resolved))
    ]


def _adds_entries(key: str, values: dict[str, Any], resolved: ConfigValues) -> bool:
    if key not in TABLE_FIELDS:
        return False
    higher, lower = as_table(resolved[key]), as_table(values[key])
    if higher is None or lower is None:
        return False
    return merge_tables(higher, lower, fold=TABLE_FIELDS[key]) != higher


def load_legacy_env(resolved: ConfigValues) -> LocatedValues:
    """``ANACONDA_CLOUD_<KEY>`` (any case) from the environment, then files of that name in
    the secrets directory, then ``.env`` (anaconda-auth 0.15's ``AnacondaCloudConfig`` read
    all three, in that order, below the site tables and above ``[plugin.auth]``)."""
    environ = os.environ
    values = _collect(((n, n) for n in environ), environ.__getitem__, LEGACY_ENV_PREFIX)
    directory = secrets_dir()
    secrets = _collect(
        _secret_candidates(directory, LEGACY_ENV_PREFIX),
        _read_secret(directory),
        LEGACY_ENV_PREFIX,
        skip=values,
    )
    _merge_below(values, secrets)
    path = dotenv_path()
    if path is not None:
        _merge_below(values, _dotenv_values(path, LEGACY_ENV_PREFIX))
    _warn_legacy(values, resolved, lambda key: f"rename it to {_env_name(key)}")
    return values


def _merge_below(values: LocatedValues, lower: LocatedValues) -> None:
    for key, value in lower.items():
        if key not in values:
            values[key] = value
            values.locations[key] = lower.locations[key]


def load_legacy_toml(resolved: ConfigValues) -> LocatedValues:
    """The ``[plugin.cloud]`` table of ``config.toml`` (anaconda-cloud-auth's name)."""
    path = find_config_toml()
    if path is None:  # no home directory: no file
        return LocatedValues()
    data = read_config_toml(path)
    plugin = data.get("plugin", {})
    table = plugin.get("cloud", {}) if isinstance(plugin, dict) else {}
    shown = display_path(path)
    if not isinstance(table, dict):
        raise ConfigError(
            f"Invalid [plugin.cloud] in {shown}: expected a table of settings. Move the "
            "settings to [plugin.auth] and remove it."
        )
    values = LocatedValues(table, {key: f"[plugin.cloud] {key} in {shown}" for key in table})
    _warn_legacy(values, resolved, lambda key: "move it to [plugin.auth]")
    values.locations = {key: f"{shown} [plugin.cloud] {key}" for key in table}
    return values


_conda_installed: bool | None = None


def conda_installed() -> bool:
    """Whether conda can be imported (looked up once per process, without importing it)."""
    global _conda_installed
    if _conda_installed is None:
        import importlib.util

        try:
            _conda_installed = importlib.util.find_spec("conda") is not None
        except (ImportError, ValueError):
            _conda_installed = False
    return _conda_installed


@functools.lru_cache(maxsize=1)
def conda_settings() -> dict[str, Any]:
    """The conda settings that map to ours, read once per process (as conda reads .condarc).

    Only values that differ from conda's defaults are returned (conda's default
    ``ssl_verify`` is ``true``, as ours is). Empty when conda cannot be loaded.
    """
    try:
        from conda.base.context import Context  # type: ignore[import-not-found,import-untyped,unused-ignore]

        context = Context()
        raw = {ours: getattr(context, theirs, None) for theirs, ours in CONDA_KEYS.items()}
    except Exception as exc:  # noqa: BLE001 - a broken conda must not break anaconda-auth
        log.debug("conda settings not read: %s: %s", type(exc).__name__, exc)
        return {}
    values: dict[str, Any] = {}
    if raw["proxy_servers"]:
        values["proxy_servers"] = {str(k): str(v) for k, v in dict(raw["proxy_servers"]).items()}
    for key in ("client_cert", "client_cert_key"):
        if raw[key]:
            values[key] = str(raw[key])
    if raw["ssl_verify"] is not True and raw["ssl_verify"] is not None:
        values["ssl_verify"] = raw["ssl_verify"]
    return values


def load_conda(resolved: ConfigValues) -> dict[str, Any]:
    """conda's proxy, client certificate and TLS verification settings, for keys no other
    source set; conda's ``proxy_servers`` entries merge under a higher source's table (as in
    anaconda-auth 0.15). conda is imported only when installed and only when one of its keys
    can still be used."""
    wanted = [k for k in CONDA_KEYS.values() if k not in resolved or k in TABLE_FIELDS]
    if not wanted or not conda_installed():
        return {}
    return {k: v for k, v in conda_settings().items() if k in wanted}


def _legacy_env_where(key: str) -> str:
    return f"{LEGACY_ENV_PREFIX}{key.upper()}"


def _legacy_toml_where(key: str) -> str:
    return f"{config_toml_shown()} [plugin.cloud] {key}"


def _conda_where(key: str) -> str:
    theirs = {ours: theirs for theirs, ours in CONDA_KEYS.items()}.get(key, key)
    return f"conda's configuration (.condarc): {theirs}"


def _secret_where(key: str) -> str:
    return str(secrets_dir() / _env_name(key))


def _dotenv_where(key: str) -> str:
    path = dotenv_path()
    return f"{display_path(path) if path else '.env'}: {_env_name(key)}"


def _toml_where(key: str) -> str:
    return f"{config_toml_shown()} [plugin.auth] {key}"


def _site_where(key: str) -> str:
    return f"{config_toml_shown()} [sites.<selected>] {key}"


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
        "legacy-env",
        SOURCE_RANKS["legacy-env"],
        load_legacy_env,
        "deprecated ANACONDA_CLOUD_* names (environment, then secret files, then .env)",
        where=_legacy_env_where,
    )
    yield ConfigSource(
        "config-toml",
        SOURCE_RANKS["config-toml"],
        load_plugin_auth,
        "[plugin.auth] of $ANACONDA_CONFIG_TOML or ~/.anaconda/config.toml",
        where=_toml_where,
    )
    yield ConfigSource(
        "legacy-toml",
        SOURCE_RANKS["legacy-toml"],
        load_legacy_toml,
        "the deprecated [plugin.cloud] table of config.toml",
        where=_legacy_toml_where,
    )
    yield ConfigSource(
        "conda",
        SOURCE_RANKS["conda"],
        load_conda,
        "conda's proxy_servers, client_ssl_cert(_key) and ssl_verify, if conda is installed",
        where=_conda_where,
    )
