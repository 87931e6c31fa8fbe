"""The configured sites: ``AnacondaAuthSitesConfig`` (the class anaconda-cli-base imports to
build ``anaconda login --at <site>``) and ``Sites``."""

from __future__ import annotations

from collections.abc import Iterator, KeysView
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from anaconda_auth.config.constants import DEFAULT_DOMAIN, FIELD_NAMES
from anaconda_auth.config.errors import config_error, unknown_site
from anaconda_auth.config.files import config_toml_shown
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
                f"The domain {key} matches more than one configured site ({', '.join(matches)}) "
                f"in {config_toml_shown()}. Select one by name."
            )
        raise unknown_site(
            f"The site or domain {key} has not been configured in "
            f"{config_toml_shown()} (configured sites: "
            f"{', '.join(self.root) or 'none'})."
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

    # --- writing config.toml (anaconda_auth.config.writer) ---------------------------------

    def _changes(
        self,
        preserve_existing_keys: bool = True,
        extra: dict[str, dict[str, Any]] | None = None,
        given: dict[str, set[str]] | None = None,
    ) -> Any:
        """What writing this object would change in ``config.toml`` (a ``SitesChanges``).

        As 0.15: a site's values that differ from the defaults are written, and the implicit
        ``anaconda.com`` site is written as a table (``[sites."anaconda.com"]``) when other
        site tables are written beside it (a file with site tables has no implicit site).
        ``default_site`` is written when it changes, and with the first site tables of a file.
        ``extra``: by site name, further keys to set as given (keys this version's site model
        does not know). ``given``: by site name, keys to write even when their value is the
        default (what a person typed).
        """
        from anaconda_auth.config.constants import DEFAULT_SITE_ENV
        from anaconda_auth.config.files import read_config_toml
        from anaconda_auth.config.writer import SitesChanges, site_changes

        on_disk = type(self)()
        read = read_sites()
        tables = read.tables
        defaults = AnacondaAuthSite().model_dump(mode="json")
        changes = SitesChanges()
        if self.default_site != on_disk.default_site:
            changes.default_site, changes.set_default = self.default_site, True
        implicit = not tables and DEFAULT_DOMAIN in self.sites.root
        written: dict[str, dict[str, Any] | None] = {}
        for name, site in self.sites.root.items():
            new = site.model_dump(mode="json")
            in_file = tables.get(name)
            old_site = on_disk.sites.root.get(name)
            old = old_site.model_dump(mode="json") if old_site is not None else None
            values = site_changes(
                old if in_file is not None else None,
                new,
                defaults,
                in_file,
                preserve_existing_keys,
            )
            for key in (given or {}).get(name, ()):
                if key in new and (in_file is None or in_file.get(key) != new[key]):
                    values.setdefault(key, new[key])
            order = {key: i for i, key in enumerate(new)}  # the model's order, as 0.15
            values = dict(sorted(values.items(), key=lambda kv: order.get(kv[0], len(order))))
            values.update((extra or {}).get(name, {}))
            if values or in_file is None:
                written[name] = values
        if (
            implicit
            and list(self.sites.root) == [DEFAULT_DOMAIN]
            and not written.get(DEFAULT_DOMAIN)
            and not changes.set_default
        ):
            written.pop(DEFAULT_DOMAIN, None)  # the implicit site, unchanged: nothing to write
        changes.sites.update(written)
        for name in tables:
            if name not in self.sites.root:
                changes.sites[name] = None
        # As 0.15, the first site tables of a file come with default_site (a file that has
        # tables keeps its lines as they are); a default from $ANACONDA_DEFAULT_SITE is not
        # pinned into the file.
        if (
            not tables
            and any(v is not None for v in changes.sites.values())
            and not changes.set_default
            and self.default_site is not None
            and read_config_toml(read.path).get("default_site") is None
            and read.default_origin != DEFAULT_SITE_ENV
        ):
            changes.default_site, changes.set_default = self.default_site, True
        return changes

    def plan_write(
        self,
        preserve_existing_keys: bool = True,
        extra: dict[str, dict[str, Any]] | None = None,
        given: dict[str, set[str]] | None = None,
    ) -> Any:
        """The file as it is and as :meth:`write_config` would write it (a writer ``Plan``:
        ``.diff()``, ``.changed``). Raises ``ConfigError`` for a file it cannot read or parse."""
        from anaconda_auth.config import writer

        return writer.plan(self._changes(preserve_existing_keys, extra, given))

    def write_config(self, preserve_existing_keys: bool = True, dry_run: bool = False) -> None:
        """Write ``default_site`` and the sites of this object to ``config.toml``.

        Only what changed is written; comments, ordering and other tables are kept, and the
        write is atomic (see :mod:`anaconda_auth.config.writer`). A value changed back to its
        default is removed from its table, unless the table had the key and
        ``preserve_existing_keys``. Site tables no longer in this object are removed.
        ``dry_run``: print a unified diff of the change on stdout and write nothing.
        Raises ``ConfigError`` (the file untouched) when the file cannot be parsed or written.
        """
        from anaconda_auth.config import writer

        plan = self.plan_write(preserve_existing_keys)
        if dry_run:
            print(plan.diff() or f"No change to {plan.path}")
            return
        writer.commit(plan)
