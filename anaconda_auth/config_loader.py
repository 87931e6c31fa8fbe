"""Merge the config sources contributed by plugins into raw values for the model."""

from __future__ import annotations

from typing import Any


def resolve(explicit: dict[str, Any]) -> dict[str, Any]:
    """Raw values from every source, highest rank first; explicit arguments win."""
    from anaconda_auth.manager import get_plugin_manager

    merged: dict[str, Any] = {k: v for k, v in explicit.items() if v is not None}
    for source in get_plugin_manager().get_config_sources():
        for key, value in source.load(dict(merged)).items():
            merged.setdefault(key, value)
    return merged
