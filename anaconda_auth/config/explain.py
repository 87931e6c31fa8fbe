"""``explain()``: every configuration value with where it came from, secrets masked.

What ``anaconda auth config`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anaconda_auth.config.constants import FIELD_NAMES
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
