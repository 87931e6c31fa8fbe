"""``explain()``: every configuration value with where it came from, secrets masked.

What ``anaconda auth config`` shows.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from anaconda_auth.config.constants import FIELD_NAMES, NON_FIELD_KEYS
from anaconda_auth.config.files import display_path, find_config_toml, read_config_toml
from anaconda_auth.config.loader import mask_value as mask_value  # the one masking rule
from anaconda_auth.config.model import AnacondaAuthSite, resolve_explicit, validate_into


@dataclass(frozen=True)
class ResolvedValue:
    """One configuration key for display: its value (secrets masked) and where it came from.

    ``source`` is ``"explicit"``, a config source's name (``"environment"``, ``"secrets-dir"``,
    ``"dotenv"``, ``"site"``, ``"config-toml"`` or a plugin's), or ``"default"``. ``location``
    is the precise place: ``"ANACONDA_AUTH_DOMAIN"``,
    ``"~/.anaconda/config.toml [plugin.auth] ssl_verify"``, ``"default"``... For unknown keys
    ``value`` is ``None`` (they may hold a misspelt secret).
    """

    key: str
    value: Any
    source: str
    location: str
    masked: bool = False


def explain(**explicit: Any) -> list[ResolvedValue]:
    """Every field of the resolved configuration with its source, secrets masked.

    Takes the same keyword arguments as :class:`AnacondaAuthConfig`; raises the same
    ``ConfigError`` for a bad value.
    """
    resolution = resolve_explicit(explicit)
    config = AnacondaAuthSite.model_construct()
    validate_into(config, resolution)
    rows: list[ResolvedValue] = []
    for name in FIELD_NAMES:
        value, masked = mask_value(name, getattr(config, name))
        origin = resolution.origin(name)
        location = origin.location
        if name == "site" and name not in resolution.origins:
            location = "default (the domain)"
        rows.append(ResolvedValue(name, value, origin.source, location, masked))
    return rows


def unknown_keys(**explicit: Any) -> list[ResolvedValue]:
    """Keys set in some source that no field knows (ignored; often a typo). No values."""
    resolution = resolve_explicit(explicit)
    return [
        ResolvedValue(key, None, origin.source, origin.location)
        for key, origin in resolution.unknown
    ]


# --- names that are not ours: typos, reported with the closest valid name ----------------------

#: The top-level names of config.toml this package reads.
_TOP_LEVEL = ("plugin", "sites", "default_site")
#: The ``[plugin.<name>]`` tables this package reads (``cloud``: deprecated).
_PLUGIN_TABLES = ("auth", "cloud")
#: The longest name shown in a warning (a name can be an environment variable of any length).
_NAME_SHOWN = 80


@dataclass(frozen=True)
class UnknownName:
    """A name in the configuration that nothing reads (so is ignored), with the closest valid
    name when one is close enough: a misspelt key, table or storage backend."""

    name: str
    location: str
    suggestion: str | None = None
    what: str = "setting"

    def message(self) -> str:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else " (a typo?)"
        name, where = _brief(self.name), _brief(self.location, 240)
        if self.what == "token storage backend":
            return (
                f"preferred_token_storage {name} from {where} names no installed {self.what}{hint}"
            )
        return f"unknown {self.what} {name} in {where} is ignored{hint}"


def _brief(text: str, limit: int = _NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def closest(name: str, valid: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The valid name closest to ``name`` (compared in lower case), if any is close enough."""
    choices = {v.lower(): v for v in valid}
    found = difflib.get_close_matches(name.lower()[:200], list(choices), n=1, cutoff=cutoff)
    return choices[found[0]] if found else None


def _key_names() -> tuple[str, ...]:
    return (*FIELD_NAMES, *sorted(NON_FIELD_KEYS))


def _unknown_key(key: str, location: str) -> UnknownName:
    match = closest(key, _key_names())
    return UnknownName(repr(key), location, repr(match) if match else None)


def _config_toml_names(seen: set[str]) -> list[UnknownName]:
    """Misspelt tables and keys of config.toml that no source reports: top-level names close
    to ours, a ``[plugin.<name>]`` close to ``auth`` holding our settings, our settings at the
    top level, and unknown keys of every ``[sites.<name>]`` table (the selected one's are
    reported by the loader). Tables of other tools are left alone."""
    path = find_config_toml()
    if path is None:
        return []
    data = read_config_toml(path)
    shown = display_path(path)
    found: list[UnknownName] = []
    for key, value in data.items():
        if key in _TOP_LEVEL:
            continue
        if key in FIELD_NAMES:
            found.append(UnknownName(repr(key), f"{shown} (top level)", f"[plugin.auth] {key}"))
            continue
        match = closest(key, _TOP_LEVEL, cutoff=0.75)
        if match is None:
            continue
        if isinstance(value, dict):
            sub = next((s for s in _PLUGIN_TABLES if s in value), None)
            hint = {"plugin": f"[plugin.{sub or 'auth'}]", "sites": "[sites.<name>]"}.get(match)
            found.append(UnknownName(f"[{key}]", shown, hint or match, "table"))
        else:
            found.append(UnknownName(repr(key), shown, repr(match)))
    plugin = data.get("plugin")
    if isinstance(plugin, dict):
        for name, table in plugin.items():
            if name in _PLUGIN_TABLES or not isinstance(table, dict):
                continue
            match = closest(name, _PLUGIN_TABLES, cutoff=0.6)
            if match is not None and any(k in FIELD_NAMES for k in table):
                found.append(UnknownName(f"[plugin.{name}]", shown, f"[plugin.{match}]", "table"))
    sites = data.get("sites")
    if isinstance(sites, dict):
        for name, table in sites.items():
            if not isinstance(table, dict):
                continue  # reported by the loader, as an error
            for key in table:
                where = f"{shown} [sites.{name}] {key}"
                if key not in FIELD_NAMES and key not in NON_FIELD_KEYS and where not in seen:
                    found.append(_unknown_key(key, where))
    return found


def _storage_name(row: ResolvedValue) -> list[UnknownName]:
    from anaconda_auth.manager import get_plugin_manager  # the installed backends

    names = list(get_plugin_manager().get_storage_backends())
    if row.value in names or not isinstance(row.value, str):
        return []
    match = closest(row.value, names)
    return [
        UnknownName(
            repr(row.value), row.location, repr(match) if match else None, "token storage backend"
        )
    ]


def unknown_names(**explicit: Any) -> list[UnknownName]:
    """Every name the configuration sets that nothing reads, each with the closest valid name:
    unknown keys in any source (:func:`unknown_keys`), misspelt tables of ``config.toml``, and
    a ``preferred_token_storage`` that names no installed backend. Takes the arguments of
    :class:`AnacondaAuthConfig`; raises its ``ConfigError`` for a bad value."""
    found = [_unknown_key(item.key, item.location) for item in unknown_keys(**explicit)]
    found += _config_toml_names({item.location for item in found})
    storage = next(r for r in explain(**explicit) if r.key == "preferred_token_storage")
    return found + _storage_name(storage)
