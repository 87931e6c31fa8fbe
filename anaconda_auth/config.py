"""Configuration: ``AnacondaAuthConfig``, the sites of ``config.toml``, and ``explain()``.

Sources are plugins (see :mod:`anaconda_auth.plugins.config_sources`) merged by rank, highest
first: explicit arguments > ``ANACONDA_AUTH_*`` environment > secrets directory > ``.env`` >
the selected ``[sites.<name>]`` table > ``[plugin.auth]`` of ``config.toml`` > defaults.
Values are resolved every time a config object is built, so changes to the environment or to
the files are seen at once; the files are parsed again only when they change, and while none of
the inputs changed ``AnacondaAuthConfig()`` returns a copy of the last result
(:mod:`anaconda_auth._config_cache`).

Module-level imports are limited to pydantic and the standard library: anaconda-cli-base imports
this module to build ``anaconda login --at``, and the client imports it lazily.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, KeysView
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from anaconda_auth import __version__, _config_cache, plugin_types
from anaconda_auth.config_loader import (
    Origin,
    Resolution,
    SitesTables,
    is_secret_name,
    normalize_domain,
    raise_config_error,
    read_sites,
    resolve,
)

#: Ranks of the built-in sources (higher wins). Explicit arguments beat every source and the
#: field defaults lose to every source; a third-party source picks a rank in between.
SOURCE_RANKS: dict[str, int] = {
    "environment": 600,
    "secrets-dir": 500,
    "dotenv": 400,
    "site": 300,
    "legacy-env": 250,  # ANACONDA_CLOUD_* (deprecated, anaconda-auth 0.15)
    "config-toml": 200,
    "legacy-toml": 150,  # [plugin.cloud] (deprecated, anaconda-auth 0.15)
    "conda": 100,  # conda's proxy/TLS settings, when conda is installed
}

ENV_PREFIX = "ANACONDA_AUTH_"
DEFAULT_SITE_ENV = "ANACONDA_DEFAULT_SITE"
DEFAULT_DOMAIN = "anaconda.com"
DEFAULT_CLIENT_ID = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a"

#: ``ANACONDA_AUTH_*`` names that are read elsewhere and are not config fields (not "unknown").
NON_FIELD_KEYS: frozenset[str] = frozenset({"keyring_passphrase"})

#: Shown instead of a secret value.
MASK = "********"

_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})


def _bool_word(text: str) -> bool | None:
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


def _json_mapping(value: Any, what: str) -> Any:
    """A JSON object given as a string (the environment, ``.env``, secrets) becomes a dict."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"the JSON is a {type(parsed).__name__}, not an object of {what}")
    return parsed


class AnacondaAuthSite(BaseModel):
    """The settings of one site (domain); the field names match the existing anaconda-auth.

    Constructed directly, it only validates what it is given (no sources are read); use
    :class:`AnacondaAuthConfig` for the resolved configuration.
    """

    model_config = ConfigDict(extra="ignore", validate_assignment=True, validate_default=True)

    site: str | None = Field(
        default=None,
        exclude=True,
        description="the name of a [sites.<name>] table (or a domain) to take settings from",
    )
    domain: str = Field(
        default=DEFAULT_DOMAIN,
        description="a host name such as anaconda.com, with an optional :port "
        "(an https:// URL is reduced to its host)",
    )
    auth_domain_override: str | None = Field(
        default=None, description="the host of the identity provider, when not the domain"
    )
    ssl_verify: bool | str = Field(
        default=True,
        description='true, false, "truststore" (the system trust store), or the path of an '
        "existing CA bundle file or directory",
    )
    preferred_token_storage: str = Field(
        default="anaconda-keyring",
        description='the name of a token storage backend ("anaconda-keyring", "system", or '
        "a plugin's)",
    )
    api_key: str | None = Field(
        default=None, repr=False, description="an API key to use instead of a stored one"
    )
    keyring_path: Path = Field(
        default=Path("~/.anaconda/keyring"),
        description="the path of the encrypted token file (~ and $VARS are expanded)",
    )
    extra_headers: dict[str, str] | None = Field(
        default=None,
        description="a table of HTTP header names to string values (or its JSON string)",
    )
    client_id: str = Field(default=DEFAULT_CLIENT_ID, description="the OAuth client id")
    redirect_uri: str = Field(
        default="http://127.0.0.1:8000/auth/oidc",
        description="the loopback URL the browser is sent back to after login",
    )
    openid_config_path: str = Field(
        default="/.well-known/openid-configuration",
        description="the path of the OpenID discovery document on the auth domain",
    )
    oidc_request_headers: dict[str, str] = Field(
        default={"User-Agent": f"anaconda-auth/{__version__}"},
        description="headers sent to the identity provider (a table or its JSON string)",
    )
    login_success_path: str = Field(
        default="/app/local-login-success",
        description="the page (on the domain) shown after a successful browser login",
    )
    login_error_path: str = Field(
        default="/app/local-login-error",
        description="the page (on the domain) shown after a failed browser login",
    )
    use_device_flow: bool = Field(
        default=False,
        description="true to always log in with the device-code flow; false (the default) "
        "opens a browser and falls back to the device flow when none can be opened",
    )
    proxy_servers: dict[str, str] | None = Field(
        default=None,
        description='a table of scheme to proxy URL, as requests takes it (e.g. {"https": '
        '"http://proxy:3128"}), or its JSON string',
    )
    client_cert: str | None = Field(
        default=None, description="the path of a client certificate (PEM) for TLS"
    )
    client_cert_key: str | None = Field(
        default=None, description="the path of the client certificate's private key"
    )
    hash_hostname: bool = Field(
        default=True, description="send a hash of the host name, not the name, to the server"
    )
    http_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds to wait for each request to the identity provider while logging in",
    )
    login_timeout: float = Field(
        default=300.0,
        gt=0,
        description="seconds to wait for the browser to come back during a browser login",
    )
    disabled_plugins: list[str] = Field(
        default=[],
        description="plugin names to skip: a list, a comma-separated string or a JSON list "
        "(read from the environment and [plugin.auth] only)",
    )

    # --- validators ------------------------------------------------------------------------

    @field_validator("site", mode="before")
    @classmethod
    def _site(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("domain", "auth_domain_override", mode="before")
    @classmethod
    def _host_only(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return normalize_domain(value)

    @field_validator("ssl_verify", mode="before")
    @classmethod
    def _ssl_verify(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if not isinstance(value, str):
            raise ValueError(f"got a {type(value).__name__}")
        text = value.strip()
        word = _bool_word(text)
        if word is not None:
            return word
        if text.lower() == "truststore":
            return "truststore"
        if not text:
            raise ValueError("got an empty string")
        path = Path(os.path.expandvars(text)).expanduser()
        if not path.exists():
            raise ValueError(f"the CA bundle {str(path)!r} does not exist")
        return str(path)

    @field_validator("use_device_flow", "hash_hostname", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = _bool_word(value)
            if word is None:
                raise ValueError(f"{value.strip()!r} is not one of true/false, yes/no, on/off, 1/0")
            return word
        return value

    @field_validator("keyring_path", mode="before")
    @classmethod
    def _keyring_path(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("got an empty path")
            return Path(os.path.expandvars(value.strip()))
        return value

    @field_validator("keyring_path", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("extra_headers", "oidc_request_headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        return _json_mapping(value, "header names to values")

    @field_validator("extra_headers", "oidc_request_headers", mode="after")
    @classmethod
    def _header_values(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if "\r" in text or "\n" in text:
                raise ValueError(f"the value of header {name!r} contains a line break")
        return value

    @field_validator("proxy_servers", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        return _json_mapping(value, "schemes to proxy URLs")

    @field_validator("disabled_plugins", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a valid JSON list ({exc.msg})") from None
            else:
                value = text.split(",")
        if isinstance(value, list) and all(isinstance(n, str) for n in value):
            return [n.strip() for n in value if n.strip()]
        return value

    @model_validator(mode="after")
    def _site_defaults_to_domain(self) -> AnacondaAuthSite:
        if self.site is None:
            self.site = self.domain
        return self

    # --- derived values --------------------------------------------------------------------

    @property
    def auth_domain(self) -> str:
        """The host of the identity provider: ``auth_domain_override`` or ``domain``."""
        return self.auth_domain_override or self.domain

    @property
    def well_known_url(self) -> str:
        """The URL of the OpenID discovery document."""
        return urljoin(f"https://{self.auth_domain}", self.openid_config_path)

    @property
    def login_success_url(self) -> str:
        """Where the browser goes after a successful login."""
        return urljoin(f"https://{self.domain}", self.login_success_path)

    @property
    def login_error_url(self) -> str:
        """Where the browser goes after a failed login."""
        return urljoin(f"https://{self.domain}", self.login_error_path)

    @property
    def oidc(self) -> OpenIDConfiguration:
        """The provider's OpenID configuration (fetched once per process; the 0.15 API)."""
        from anaconda_auth import oidc

        return OpenIDConfiguration.model_validate(oidc.discover(self).raw)


FIELD_NAMES: tuple[str, ...] = tuple(AnacondaAuthSite.model_fields)


_BOOL = "true or false (or yes/no, on/off, 1/0)"
_TABLE = "a TOML table of {what}, or the same as a JSON object string"

#: What each key accepts, for error messages.
EXPECTED: dict[str, str] = {
    "site": "the name of a [sites.<name>] table, or a configured domain",
    "domain": "a host name such as anaconda.com (optionally with :port, or an https:// URL)",
    "auth_domain_override": "a host name such as auth.example.com",
    "ssl_verify": 'true, false, "truststore", or the path of an existing CA bundle',
    "preferred_token_storage": "the name of a token storage backend (a string)",
    "api_key": "an API key (a string)",
    "keyring_path": "a file path",
    "extra_headers": _TABLE.format(what="header names to string values"),
    "client_id": "an OAuth client id (a string)",
    "redirect_uri": "a URL (a string)",
    "openid_config_path": "a URL path (a string)",
    "oidc_request_headers": _TABLE.format(what="header names to string values"),
    "login_success_path": "a URL path (a string)",
    "login_error_path": "a URL path (a string)",
    "use_device_flow": _BOOL,
    "proxy_servers": _TABLE.format(what="schemes to proxy URLs"),
    "client_cert": "a file path (a string)",
    "client_cert_key": "a file path (a string)",
    "hash_hostname": _BOOL,
    "http_timeout": "a positive number of seconds",
    "login_timeout": "a positive number of seconds",
    "disabled_plugins": "a list of plugin names (or a comma-separated string, or a JSON list)",
}


class AnacondaAuthConfig(AnacondaAuthSite):
    """The resolved configuration: explicit keyword arguments over every configured source.

    ``None`` arguments count as not given. ``site=`` selects a ``[sites.<name>]`` table by name
    (or by domain). A bad value raises :class:`anaconda_auth.exceptions.ConfigError` naming the
    source, the key and the expected form.
    """

    def __init__(self, **explicit: Any) -> None:
        # Memoised while nothing it depends on changes (see anaconda_auth._config_cache).
        key = _config_cache.key_for(type(self), explicit)
        if key is not None and _config_cache.fill(self, key):
            return
        fingerprint = _config_cache.begin() if key is not None else None
        resolution = _resolve(explicit)
        _validate_into(self, resolution)
        if key is not None and fingerprint is not None:
            _config_cache.store(key, fingerprint, self, resolution.origins.values())


plugin_types.set_default_config_factory(AnacondaAuthConfig)


class OpenIDConfiguration(BaseModel):
    """The endpoints of the identity provider, from its discovery document (the 0.15 model;
    the other fields of the document are kept as extra attributes)."""

    model_config = ConfigDict(extra="allow")

    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str | None = None


class AnacondaCloudConfig(AnacondaAuthConfig):
    """Deprecated name of :class:`AnacondaAuthConfig` (anaconda-cloud-auth).

    The ``[plugin.cloud]`` table and ``ANACONDA_CLOUD_*`` variables it read are still read, by
    every configuration, below their ``[plugin.auth]`` / ``ANACONDA_AUTH_*`` counterparts.
    """

    def __init__(self, raise_deprecation_warning: bool = True, **explicit: Any) -> None:
        if raise_deprecation_warning:
            import warnings

            warnings.warn(
                "AnacondaCloudConfig is deprecated; use AnacondaAuthConfig.",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(**explicit)


def _resolve(explicit: dict[str, Any]) -> Resolution:
    site = explicit.get("site")
    if isinstance(site, str) and site.strip():
        # a site given by its domain is recorded under its name
        explicit = {**explicit, "site": read_sites().find(site.strip()) or site}
    return resolve(explicit, FIELD_NAMES, NON_FIELD_KEYS)


def _validate_into(model: AnacondaAuthSite, resolution: Resolution) -> None:
    try:
        AnacondaAuthSite.__init__(model, **resolution.values)
    except ValidationError as exc:
        error = exc
    else:
        return
    # raised outside the except block: the ValidationError (which holds the raw input, maybe
    # a secret) is not even attached as __context__
    raise_config_error(error, resolution.origins, EXPECTED, resolution.values)


# --- explain (for `anaconda auth config`) ----------------------------------------------------


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


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))


def mask_value(key: str, value: Any) -> tuple[Any, bool]:
    """The value to show for ``key``, and whether anything was hidden."""
    if value is None:
        return None, False
    if is_secret_name(key):
        return MASK, True
    if isinstance(value, dict) and key in ("extra_headers", "oidc_request_headers"):
        shown = {k: MASK if is_secret_name(k) else v for k, v in value.items()}
        return shown, shown != value
    if isinstance(value, dict) and key == "proxy_servers":
        shown = {k: _mask_url(v) if isinstance(v, str) else v for k, v in value.items()}
        return shown, shown != value
    if isinstance(value, Path):
        return str(value), False
    return value, False


def explain(**explicit: Any) -> list[ResolvedValue]:
    """Every field of the resolved configuration with its source, secrets masked.

    Takes the same keyword arguments as :class:`AnacondaAuthConfig`; raises the same
    ``ConfigError`` for a bad value.
    """
    resolution = _resolve(explicit)
    config = AnacondaAuthSite.model_construct()
    _validate_into(config, resolution)
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
    resolution = _resolve(explicit)
    return [
        ResolvedValue(key, None, origin.source, origin.location)
        for key, origin in resolution.unknown
    ]


# --- sites -------------------------------------------------------------------------------------


def _site_from_table(name: str, table: dict[str, Any], tables: SitesTables) -> AnacondaAuthSite:
    values = {k: v for k, v in table.items() if k in FIELD_NAMES and k != "site"}
    origins = {k: Origin("site", tables.location(name, k)) for k in values}
    site = AnacondaAuthSite.model_construct()
    _validate_into(site, Resolution(values={**values, "site": name}, origins=origins))
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
        from anaconda_auth._paths import config_toml_path, display_path
        from anaconda_auth.exceptions import ConfigError, UnknownSiteName

        if matches:
            raise ConfigError(
                f"The domain {key!r} matches several sites ({', '.join(matches)}) in "
                f"{display_path(config_toml_path())}. Select one by name."
            )
        raise UnknownSiteName(
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
