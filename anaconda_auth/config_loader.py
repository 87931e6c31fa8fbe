"""Merge the config sources contributed by plugins into raw values, remembering their origin.

This module has no state: every call asks the plugin manager for the sources and asks each
source for its values, so changes to the environment and to the files are seen at once (the
file readers in :mod:`anaconda_auth._paths` keep the parsing cheap).

It also reads the ``default_site`` and ``[sites.<name>]`` tables of ``config.toml`` and selects
a site, for the site source and for :class:`anaconda_auth.config.AnacondaAuthSitesConfig`.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from pydantic import ValidationError

    from anaconda_auth.exceptions import ConfigError
    from anaconda_auth.plugin_types import ConfigSource

log = logging.getLogger(__name__)

DEFAULT_SITE_ENV = "ANACONDA_DEFAULT_SITE"
IMPLICIT_SITE = "anaconda.com"
EXPLICIT = "explicit"
DEFAULT = "default"


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a source name and a human location."""

    source: str
    location: str


DEFAULT_ORIGIN = Origin(DEFAULT, "default")


class LocatedValues(dict[str, Any]):
    """What a source's ``load()`` may return instead of a plain mapping: values plus, for each
    key, its location (``locations[key]``), when the location is only known while loading (the
    selected site table, the actual file name in the secrets directory, a line of ``.env``)."""

    def __init__(
        self, values: Mapping[str, Any] | None = None, locations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(values or {})
        self.locations: dict[str, str] = dict(locations or {})

    def __repr__(self) -> str:  # keys only: the values may be secrets
        return f"{type(self).__name__}(keys={sorted(self)!r})"


@dataclass
class Resolution:
    """The merged raw values, the origin of each, and keys no field knows."""

    values: dict[str, Any] = field(default_factory=dict, repr=False)  # raw: may hold secrets
    origins: dict[str, Origin] = field(default_factory=dict)
    unknown: list[tuple[str, Origin]] = field(default_factory=list)

    def origin(self, key: str) -> Origin:
        return self.origins.get(key, DEFAULT_ORIGIN)


def _config_error(message: str) -> ConfigError:
    from anaconda_auth.exceptions import ConfigError

    return ConfigError(message)


def _is_builtin(source: ConfigSource) -> bool:
    from anaconda_auth.config import SOURCE_RANKS

    return source.name in SOURCE_RANKS and source.load.__module__.startswith("anaconda_auth.")


def _load(source: ConfigSource, resolved: Mapping[str, Any]) -> Mapping[str, Any]:
    """Values from one source. A third-party source that fails is skipped with a warning; a
    ``ConfigError`` (a bad file or value the user must fix) always propagates."""
    from anaconda_auth.exceptions import AnacondaAuthError

    try:
        loaded = source.load(resolved)
        if not isinstance(loaded, Mapping):
            raise TypeError(f"load() returned {type(loaded).__name__}, not a mapping")
        return loaded
    except AnacondaAuthError:
        raise
    except Exception as exc:
        if _is_builtin(source):
            raise
        from anaconda_auth.manager import PluginWarning

        log.debug("config source %s failed", source.name, exc_info=True)
        warnings.warn(
            f"anaconda-auth config source {source.name!r} was skipped: {type(exc).__name__}: {exc}",
            PluginWarning,
            stacklevel=4,
        )
        return {}


def resolve(
    explicit: Mapping[str, Any],
    fields: Collection[str],
    ignored: Collection[str] = (),
) -> Resolution:
    """Raw values from every source, highest rank first; explicit arguments (not ``None``) win.

    ``fields`` are the model's field names: other keys are left out of the values and listed in
    ``Resolution.unknown`` (except those in ``ignored``, known keys that are not fields).
    """
    from anaconda_auth.manager import get_plugin_manager

    result = Resolution()
    for key, value in explicit.items():
        if value is None:
            continue
        origin = Origin(EXPLICIT, f"argument {key}=")
        if key in fields:
            result.values[key] = value
            result.origins[key] = origin
        else:
            result.unknown.append((key, origin))
    for source in get_plugin_manager().get_config_sources():
        loaded = _load(source, dict(result.values))
        locations = loaded.locations if isinstance(loaded, LocatedValues) else {}
        for key, value in loaded.items():
            if value is None:
                continue
            if key not in fields:
                if key not in ignored:
                    where = locations.get(key) or source.location(key)
                    result.unknown.append((key, Origin(source.name, where)))
                continue
            if key in result.values:
                continue
            result.values[key] = value
            result.origins[key] = Origin(source.name, locations.get(key) or source.location(key))
    return result


# --- turning validation errors into ConfigError ----------------------------------------------

_SECRET_NAME = re.compile(
    r"api[-_]?key|token|secret|passw(?:or)?d|passphrase|credential|authori[sz]ation|cookie",
    re.IGNORECASE,
)


#: Names that match the pattern above but hold no secret.
_NOT_SECRET = frozenset({"preferred_token_storage"})


def is_secret_name(name: str) -> bool:
    """Whether a key (or header) name holds a secret whose value must never be shown."""
    return name not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def _shown(key: str, value: Any) -> str:
    if is_secret_name(key) or key in ("extra_headers", "proxy_servers", "oidc_request_headers"):
        # these can hold credentials: describe, never show
        return f"a value of type {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def raise_config_error(
    exc: ValidationError,
    origins: Mapping[str, Origin],
    expected: Mapping[str, str],
    values: Mapping[str, Any],
) -> NoReturn:
    """Re-raise a pydantic ``ValidationError`` as a ``ConfigError`` naming source, key and
    the expected form. Values of secret keys never appear in the message, and the original
    error (which holds the raw input) is not chained."""
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error.get("loc", ())
        key = str(loc[0]) if loc else "?"
        origin = origins.get(key, DEFAULT_ORIGIN)
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        sub = "".join(f"[{part!r}]" for part in loc[1:])
        where = origin.location
        if origin.source == EXPLICIT:
            where = f"the {key}= argument"
        line = f"Invalid {key}{sub} from {where}: {message}"
        if key in values and not sub and error.get("type") != "value_error":
            line += f" (got {_shown(key, values[key])})"
        if key in expected:
            line += f". Expected {expected[key]}."
        lines.append(line)
    if not lines:  # pragma: no cover - pydantic always reports at least one error
        lines.append("Invalid configuration")
    if len(lines) == 1:
        raise _config_error(lines[0]) from None
    raise _config_error("Invalid configuration:\n  - " + "\n  - ".join(lines)) from None


# --- sites ------------------------------------------------------------------------------------


_NETLOC = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def normalize_domain(value: str) -> str:
    """``https://host:port/path`` or ``host:port`` -> ``host:port``; ``ValueError`` if none."""
    from urllib.parse import urlsplit

    text = value.strip()
    if not text:
        raise ValueError("a domain name cannot be empty")
    url = text if re.match(r"(?i)https?://", text) else f"https://{text}"
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        raise ValueError(f"{value!r} does not look like a domain name ({exc})") from None
    netloc = netloc.rsplit("@", 1)[-1]  # never keep credentials in a domain
    if not netloc or not re.fullmatch(
        r"[A-Za-z0-9._~\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?", netloc
    ):
        raise ValueError(f"{value!r} does not look like a domain name")
    return netloc


@dataclass(frozen=True)
class SitesTables:
    """The raw site tables of ``config.toml`` and which one is the default."""

    path: Path
    tables: dict[str, dict[str, Any]]
    #: the configured default (a site name or a domain) and where it came from
    default_site: str | None
    default_origin: str

    def location(self, name: str, key: str | None = None) -> str:
        from anaconda_auth._paths import display_path

        where = f"{display_path(self.path)} [sites.{_toml_key(name)}]"
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
            raise _config_error(
                f"The domain {key!r}{f' (from {origin})' if origin else ''} matches several "
                f"sites in {self.location_file()}: {', '.join(matches)}. Select one by name."
            )
        if key == IMPLICIT_SITE:
            return None
        from anaconda_auth.exceptions import UnknownSiteName

        known = ", ".join(self.tables) or "none"
        source = f" (from {origin})" if origin else ""
        raise UnknownSiteName(
            f"The site {key!r}{source} is not configured in {self.location_file()} "
            f"(configured sites: {known}). Add a [sites.{_toml_key(key)}] table with its "
            "domain, or use one of the configured names."
        )

    def location_file(self) -> str:
        from anaconda_auth._paths import display_path

        return display_path(self.path)

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
    from anaconda_auth._paths import config_toml_path, display_path, read_config_toml

    path = config_toml_path()
    data = read_config_toml(path)
    shown = display_path(path)
    raw_sites = data.get("sites", {})
    if not isinstance(raw_sites, dict):
        raise _config_error(
            f"Invalid sites in {shown}: expected [sites.<name>] tables, got "
            f"{type(raw_sites).__name__}."
        )
    tables: dict[str, dict[str, Any]] = {}
    for name, table in raw_sites.items():
        if not isinstance(table, dict):
            raise _config_error(
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
            raise _config_error(
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
