"""The ``default_site`` and ``[sites.<name>]`` tables of ``config.toml``, and choosing a site.

Read for the site config source and for :class:`anaconda_auth.config.AnacondaAuthSitesConfig`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anaconda_auth.config.constants import DEFAULT_SITE_ENV, IMPLICIT_SITE
from anaconda_auth.config.errors import config_error, unknown_site
from anaconda_auth.config.files import (
    config_toml_shown,
    display_path,
    find_config_toml,
    read_config_toml,
)
from anaconda_auth.config.loader import normalize_domain


@dataclass(frozen=True)
class SitesTables:
    """The raw site tables of ``config.toml`` and which one is the default."""

    #: ``None`` on a machine without a home directory (and no ``$ANACONDA_CONFIG_TOML``)
    path: Path | None
    tables: dict[str, dict[str, Any]]
    #: the configured default (a site name or a domain) and where it came from
    default_site: str | None
    default_origin: str

    def location(self, name: str, key: str | None = None) -> str:
        where = f"{self.location_file()} [sites.{_toml_key(name)}]"
        return f"{where} {key}" if key else where

    def _by_domain(self, domain: str) -> list[str]:
        try:
            wanted = normalize_domain(domain)
        except ValueError:
            return []
        found = []
        for name, table in self.tables.items():
            raw = table.get("domain", IMPLICIT_SITE)
            try:
                if isinstance(raw, str) and normalize_domain(raw) == wanted:
                    found.append(name)
            except ValueError:
                continue
        return found

    def find(self, key: str, origin: str | None = None) -> str | None:
        """The site named ``key``, else the one site whose domain is ``key``.

        ``None`` for ``"anaconda.com"`` when no table is for it (the implicit default site).
        ``UnknownSiteName`` naming the config file otherwise.
        """
        if key in self.tables:
            return key
        matches = self._by_domain(key)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            if self.default_site in matches:
                return self.default_site
            raise config_error(
                f"The domain {key}{f' (from {origin})' if origin else ''} matches more than "
                f"one configured site ({', '.join(matches)}) in {self.location_file()}. "
                "Select one by name."
            )
        if key == IMPLICIT_SITE:
            return None
        known = ", ".join(self.tables) or "none"
        source = f" It was selected by {origin}." if origin else ""
        raise unknown_site(
            f"The site or domain {key} has not been configured in {self.location_file()} "
            f"(configured sites: {known}).{source} Add a [sites.{_toml_key(key)}] table with its "
            "domain, or use one of the configured names."
        )

    def location_file(self) -> str:
        return display_path(self.path) if self.path is not None else config_toml_shown()

    def select(self, resolved: Mapping[str, Any], site_origin: str | None = None) -> str | None:
        """The site for a configuration: by ``site`` (a name or a domain), else by ``domain``
        (when exactly one site has it), else the default site. ``None`` means no table."""
        site = resolved.get("site")
        if isinstance(site, str) and site:
            return self.find(site, site_origin)
        domain = resolved.get("domain")
        if isinstance(domain, str) and domain:
            matches = self._by_domain(domain)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                return self.find(domain)  # prefers the default site, else a clear error
            return None
        if self.default_site is None:
            return None
        return self.find(self.default_site, self.default_origin)


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'


def read_sites() -> SitesTables:
    """``default_site`` (``$ANACONDA_DEFAULT_SITE`` first) and the ``[sites.<name>]`` tables.

    The default is ``$ANACONDA_DEFAULT_SITE``, else the top-level ``default_site``, else the
    first site table, else ``None``. A table of the wrong shape is a ``ConfigError``.
    """
    path = find_config_toml()
    data = read_config_toml(path) if path is not None else {}
    shown = display_path(path) if path is not None else config_toml_shown()
    raw_sites = data.get("sites", {})
    if not isinstance(raw_sites, dict):
        raise config_error(
            f"Invalid sites in {shown}: expected [sites.<name>] tables, got "
            f"{type(raw_sites).__name__}."
        )
    tables: dict[str, dict[str, Any]] = {}
    for name, table in raw_sites.items():
        if not isinstance(table, dict):
            raise config_error(
                f"Invalid [sites] entry {name!r} in {shown}: expected a table "
                f"[sites.{_toml_key(name)}] with at least a domain, got {type(table).__name__}."
            )
        tables[name] = table
    env_default = os.environ.get(DEFAULT_SITE_ENV, "").strip()
    if env_default:
        default, origin = env_default, DEFAULT_SITE_ENV
    else:
        raw_default = data.get("default_site")
        if raw_default is not None and not isinstance(raw_default, str):
            raise config_error(
                f"Invalid default_site in {shown}: expected a site name (a string), got "
                f"{type(raw_default).__name__}."
            )
        if raw_default:
            default, origin = raw_default, f"{shown} default_site"
        elif tables:
            default, origin = next(iter(tables)), f"{shown} (the first [sites] table)"
        else:
            return SitesTables(path, tables, None, "")
    return SitesTables(path, tables, default, origin)
