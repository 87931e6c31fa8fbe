"""The configured sites: ``AnacondaAuthSitesConfig`` (the class anaconda-cli-base imports to
build ``anaconda login --at <site>``) and ``Sites``."""

from __future__ import annotations

from collections.abc import Iterator, KeysView
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from anaconda_auth.config.constants import DEFAULT_DOMAIN, FIELD_NAMES
from anaconda_auth.config.errors import config_error, unknown_site
from anaconda_auth.config.files import config_toml_path, display_path
from anaconda_auth.config.loader import Origin, Resolution, normalize_domain
from anaconda_auth.config.model import AnacondaAuthConfig, AnacondaAuthSite, validate_into
from anaconda_auth.config.site_tables import SitesTables, read_sites


def _site_from_table(name: str, table: dict[str, Any], tables: SitesTables) -> AnacondaAuthSite:
    values = {k: v for k, v in table.items() if k in FIELD_NAMES and k != "site"}
    origins = {k: Origin("site", tables.location(name, k)) for k in values}
    site = AnacondaAuthSite.model_construct()
    validate_into(site, Resolution(values={**values, "site": name}, origins=origins))
    return site


class Sites(RootModel[dict[str, AnacondaAuthSite]]):
    """The configured sites by name. ``sites[key]`` resolves the full configuration of the
    site named ``key`` (or of the one site whose domain is ``key``)."""

    root: dict[str, AnacondaAuthSite] = {}

    def find(self, key: str) -> str:
        """The name of the site called ``key``, else of the one site whose domain is ``key``."""
        if key in self.root:
            return key
        try:
            domain = normalize_domain(key)
        except ValueError:
            domain = key
        matches = [name for name, site in self.root.items() if site.domain == domain]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise config_error(
                f"The domain {key!r} matches several sites ({', '.join(matches)}) in "
                f"{display_path(config_toml_path())}. Select one by name."
            )
        raise unknown_site(
            f"The site {key!r} is not configured in {display_path(config_toml_path())} "
            f"(configured sites: {', '.join(self.root) or 'none'})."
        )

    def __getitem__(self, key: str) -> AnacondaAuthConfig:
        return AnacondaAuthConfig(site=self.find(key))

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.root)

    def __len__(self) -> int:
        return len(self.root)

    def __contains__(self, key: object) -> bool:
        return key in self.root

    def keys(self) -> KeysView[str]:
        return self.root.keys()

    def items(self) -> Iterator[tuple[str, AnacondaAuthConfig]]:
        """(name, resolved config) pairs; use ``.root.items()`` for the bare site tables."""
        for name in list(self.root):
            yield name, self[name]

    def values(self) -> Iterator[AnacondaAuthConfig]:
        for name in list(self.root):
            yield self[name]


class AnacondaAuthSitesConfig(BaseModel):
    """The ``[sites.<name>]`` tables of ``config.toml`` and the default site.

    Read from the file (and ``$ANACONDA_DEFAULT_SITE``) each time one is constructed; unlike
    anaconda-auth 0.15 this is not a process-wide singleton, so a changed file or environment
    is seen by the next instance. With no site tables, one implicit site ``anaconda.com`` is
    listed. Keyword arguments (``default_site=``, ``sites=``) replace what the file says.
    """

    model_config = ConfigDict(validate_assignment=True)

    default_site: str | None = None
    sites: Sites = Field(default_factory=Sites)

    def __init__(self, **overrides: Any) -> None:
        tables = read_sites()
        data: dict[str, Any] = {
            "default_site": tables.default_site,
            "sites": {
                name: _site_from_table(name, table, tables) for name, table in tables.tables.items()
            },
        }
        data.update(overrides)
        super().__init__(**data)

    @model_validator(mode="after")
    def _fill(self) -> AnacondaAuthSitesConfig:
        root = self.sites.root
        if not root:
            root[DEFAULT_DOMAIN] = AnacondaAuthSite(site=DEFAULT_DOMAIN)
        for name, site in root.items():
            if site.site != name:
                site.site = name
        if self.default_site is None:
            self.default_site = next(iter(root))
        elif self.default_site not in root:
            # the default may name a site by its domain
            matches = [name for name, site in root.items() if site.domain == self.default_site]
            if len(matches) == 1:
                self.default_site = matches[0]
        return self

    @classmethod
    def all_sites(cls) -> list[str]:
        """The names of the configured sites."""
        return list(cls().sites.root)

    @classmethod
    def load_site(cls, site: str | None = None) -> AnacondaAuthConfig:
        """The resolved configuration of a site (by name or domain); ``None``: the default."""
        config = cls()
        return config.sites[site or config.default_site or DEFAULT_DOMAIN]

    def add(self, site: AnacondaAuthSite, name: str | None = None) -> None:
        """Add (or replace) a site in this object (the file is not written)."""
        key = name or site.site or site.domain
        self.sites.root[key] = site
        site.site = key

    def remove(self, name: str) -> None:
        """Remove a site (by name or domain) from this object (the file is not written)."""
        key = self.sites.find(name)
        del self.sites.root[key]
        if not self.sites.root:
            self.sites.root[DEFAULT_DOMAIN] = AnacondaAuthSite(site=DEFAULT_DOMAIN)
        if self.default_site == key:
            self.default_site = next(iter(self.sites.root))
