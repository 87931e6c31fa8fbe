"""The configuration model: ``AnacondaAuthSite`` (one site's settings) and ``AnacondaAuthConfig``.

Sources are plugins (see :mod:`anaconda_auth.plugins.config_sources`) merged by rank, highest
first: explicit arguments > ``ANACONDA_AUTH_*`` environment > secrets directory > ``.env`` >
the selected ``[sites.<name>]`` table > ``[plugin.auth]`` of ``config.toml`` > defaults.
Values are resolved every time a config object is built, so changes to the environment or to
the files are seen at once; the files are parsed again only when they change, and while none of
the inputs changed ``AnacondaAuthConfig()`` returns a copy of the last result
(:mod:`anaconda_auth.config.memo`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from anaconda_auth import freshness
from anaconda_auth._version import __version__
from anaconda_auth.config import memo
from anaconda_auth.config.constants import (
    DEFAULT_CLIENT_ID,
    DEFAULT_DOMAIN,
    FIELD_NAMES,
    NON_FIELD_KEYS,
    TABLE_FIELDS,
)
from anaconda_auth.config.constants import EXPECTED as EXPECTED  # importable here
from anaconda_auth.config.errors import config_error, unknown_site
from anaconda_auth.config.loader import (
    Resolution,
    brief,
    mask_value,
    normalize_domain,
    parse_json,
    raise_config_error,
    resolve,
)
from anaconda_auth.config.site_tables import read_sites
from anaconda_auth.plugin_discovery import load_pydantic_plugins

# pydantic looks for its plugins when the first model class is created, reading every
# distribution's entry points: let it look through the stat-validated cache instead.
load_pydantic_plugins()

if TYPE_CHECKING:
    from anaconda_auth.flows.discovery import OpenIDConfiguration

log = logging.getLogger(__name__)

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
        parsed = parse_json(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"the JSON is a {type(parsed).__name__}, not an object of {what}")
    return parsed


#: The longest ``http_timeout`` / ``login_timeout`` (one day): a longer one is a mistake, and
#: beyond ~1e10 s the socket and thread timeouts overflow.
MAX_TIMEOUT = 86400.0

_UNEXPANDED_KEYRING = Path("~/.anaconda/keyring")


def _default_keyring_path() -> Path:
    """``~/.anaconda/keyring`` with the home directory of the moment. On a machine without a
    home directory (``HOME`` unset, no password database entry) it stays unexpanded: nothing
    fails until the anaconda-keyring backend is actually used, which then says what is wrong
    (an API key from the environment needs no home directory)."""
    home = freshness.home_dir()
    return _UNEXPANDED_KEYRING if home is None else Path(home) / ".anaconda" / "keyring"


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
        # a factory, so that ~ is the home directory of the moment, and so that
        # model_dump(exclude_defaults=True) leaves the default out (compared expanded), as 0.15
        default_factory=lambda: _default_keyring_path(),
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
        le=MAX_TIMEOUT,
        allow_inf_nan=False,
        description="seconds each login request may take in all; for client requests, the "
        "connect and the read timeout",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=20,
        description="times a client request (GET, HEAD, OPTIONS, PUT, DELETE) is retried on a "
        "connection error or HTTP 429/502/503/504; 0 turns retries off",
    )
    login_timeout: float = Field(
        default=300.0,
        gt=0,
        le=MAX_TIMEOUT,
        allow_inf_nan=False,
        description="seconds to wait for the browser to come back during a browser login",
    )
    expiry_warning_days: float = Field(
        default=7.0,
        ge=0,
        le=3650,
        allow_inf_nan=False,
        description="the CLI warns on stderr when the API key a command uses expires within "
        "this many days (0: never)",
    )
    disabled_plugins: list[str] = Field(
        default=[],
        description="plugin names to skip: a list, a comma-separated string or a JSON list "
        "(read from the environment and [plugin.auth] only)",
    )
    # --- anaconda-auth 0.15's fields for the conda integration and its keyring backend -------
    keyring: dict[str, dict[str, str]] | None = Field(
        default=None,
        repr=False,
        description="tokens kept in the configuration itself, service name -> user name -> "
        "password (a table or its JSON string; read by the ConfigKeyring backend of 0.15)",
    )
    use_unified_repo_api_key: bool = Field(
        default=False,
        description="true: conda uses the API key for the repository instead of a repo token",
    )
    disable_conda_auto_config: bool = Field(
        default=False,
        description="true: do not configure conda's channel_settings automatically",
    )
    env_manager_channel: str = Field(
        default="anaconda-cloud",
        description="the conda channel the environment manager is installed from",
    )
    env_manager_package: str = Field(
        default="anaconda-env-manager",
        description="the conda package name of the environment manager",
    )
    env_manager_version: str | None = Field(
        default=None,
        description='a version or constraint of the environment manager: "1.2.3" means '
        '"=1.2.3"; one starting with =, <, > or ! is kept as given',
    )
    account: str | None = Field(
        default=None,
        description="the account this site always uses when several are stored for its domain "
        "(see `anaconda auth status`); unset: the active one",
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
        path = Path(freshness.expand(text))
        try:
            exists = path.exists()
        except OSError as exc:  # a name too long, a loop of symbolic links...
            reason = exc.strerror or type(exc).__name__
            raise ValueError(
                f"the CA bundle {brief(str(path))} cannot be examined: {reason}"
            ) from None
        if not exists:
            raise ValueError(f"the CA bundle {brief(str(path))} does not exist")
        return str(path)

    @field_validator(
        "use_device_flow",
        "hash_hostname",
        "use_unified_repo_api_key",
        "disable_conda_auto_config",
        mode="before",
    )
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
        text = str(value)
        if not text.startswith("~"):
            return value
        if value == _UNEXPANDED_KEYRING and freshness.home_dir() is None:
            return value  # the default on a machine without a home: see _default_keyring_path
        return Path(freshness.expand(text))  # Unexpandable is a ValueError: named by source

    @model_serializer(mode="wrap")
    def _keyring_path_text(self, handler: SerializerFunctionWrapHandler) -> Any:
        """``keyring_path`` is dumped as the absolute path text, as anaconda-auth 0.15 did
        (``model_dump()`` gives ``"/home/me/.anaconda/keyring"``, not a ``Path``), and left
        out by ``model_dump(exclude_defaults=True)`` when it is the default. (A model
        serializer, not a field serializer: with one, pydantic no longer compares the field
        with its default.)"""
        data = handler(self)
        if isinstance(data, dict) and isinstance(data.get("keyring_path"), (str, PurePath)):
            data["keyring_path"] = str(Path(data["keyring_path"]).absolute())
        return data

    @field_validator("extra_headers", "oidc_request_headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        return _json_mapping(value, "header names to values")

    @field_validator("extra_headers", "oidc_request_headers", mode="after")
    @classmethod
    def _header_values(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"{brief(name)} is not a valid HTTP header name")
            if "\r" in text or "\n" in text:
                raise ValueError(f"the value of header {brief(name)} contains a line break")
            if text[:1].isspace():
                raise ValueError(f"the value of header {brief(name)} starts with white space")
            try:
                text.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"the value of header {brief(name)} has a character HTTP headers cannot carry "
                    f"(at position {exc.start}: only Latin-1 characters can be sent)"
                ) from None
        return value

    @field_validator("proxy_servers", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        return _json_mapping(value, "schemes to proxy URLs")

    @field_validator("keyring", mode="before")
    @classmethod
    def _keyring(cls, value: Any) -> Any:
        return _json_mapping(value, "service names to tables of user names and passwords")

    @field_validator("env_manager_version", mode="before")
    @classmethod
    def _version_constraint(cls, value: Any) -> Any:
        """``"1.2.3"`` -> ``"=1.2.3"`` (a conda match spec); a constraint (``==``, ``>=``,
        ``<``, ``!=``...) is kept; empty means unset."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        return text if text[0] in "=<>!" else f"={text}"

    @field_validator("disabled_plugins", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = parse_json(text)
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

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """What ``repr()``, ``str()`` and rich show: secret values masked by the one rule of
        every display (:func:`anaconda_auth.config.loader.mask_value`): secret headers, proxy
        passwords; ``api_key`` and ``keyring`` are left out altogether."""
        for name, value in super().__repr_args__():
            if name is not None:
                shown, masked = mask_value(name, value)
                if masked:
                    value = shown
            yield name, value

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
    def aau_token(self) -> str | None:
        """anaconda-anon-usage's client token (sent as ``X-AAU-CLIENT`` when an API key is
        created), or ``None`` when that package is not installed or fails (the 0.15 API).

        anaconda-anon-usage is imported only here, when the property is read. Its errors
        never stop a login: they are logged at debug level and give ``None``.
        """
        try:
            from anaconda_anon_usage.tokens import (  # type: ignore[import-not-found,unused-ignore]
                token_string,
            )
        except ImportError:
            return None
        try:
            token = token_string()
        except Exception as exc:  # noqa: BLE001 - another package's failure never stops a login
            log.debug("anaconda-anon-usage gave no client token: %s", type(exc).__name__)
            return None
        return token if isinstance(token, str) and token else None

    @property
    def oidc(self) -> OpenIDConfiguration:
        """The provider's OpenID configuration (fetched once per process; the 0.15 API)."""
        from anaconda_auth.flows.discovery import discover  # (the login room sits above)

        return discover(self)


if tuple(AnacondaAuthSite.model_fields) != FIELD_NAMES:  # pragma: no cover - a developer's slip
    raise RuntimeError("anaconda_auth.config.constants.FIELD_NAMES must list the model's fields")


class AnacondaAuthConfig(AnacondaAuthSite):
    """The resolved configuration: explicit keyword arguments over every configured source.

    ``None`` arguments count as not given. ``site=`` selects a ``[sites.<name>]`` table by name
    (or by domain). A bad value raises :class:`anaconda_auth.exceptions.ConfigError` naming the
    source, the key and the expected form.
    """

    def __init__(self, **explicit: Any) -> None:
        # Memoised while nothing it depends on changes (see anaconda_auth.config.memo).
        key = memo.key_for(type(self), explicit)
        if key is not None and memo.fill(self, key):
            return
        fingerprint = memo.begin() if key is not None else None
        resolution = resolve_explicit(explicit)
        validate_into(self, resolution)
        if key is not None and fingerprint is not None:
            origins = [*resolution.origins.values(), *resolution.contributors]
            memo.store(key, fingerprint, self, origins)


def _secrets_dir_setting() -> Any:
    """``AnacondaAuthConfig.model_config["secrets_dir"]``: pydantic-settings' setting, which
    code and tests written for anaconda-auth 0.15 set to point the secrets directory elsewhere
    (it wins over ``$ANACONDA_SECRETS_DIR``, as it did in 0.15)."""
    return AnacondaAuthConfig.model_config.get("secrets_dir")


freshness.set_secrets_dir_setting(_secrets_dir_setting)


class AnacondaCloudConfig(AnacondaAuthConfig):
    """Deprecated name of :class:`AnacondaAuthConfig` (anaconda-cloud-auth).

    The ``[plugin.cloud]`` table and ``ANACONDA_CLOUD_*`` variables it read are still read, by
    every configuration, below their ``[plugin.auth]`` / ``ANACONDA_AUTH_*`` counterparts.
    """

    def __init__(self, raise_deprecation_warning: bool = True, **explicit: Any) -> None:
        if raise_deprecation_warning:
            warnings.warn(
                "AnacondaCloudConfig is deprecated, please use AnacondaAuthConfig instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(**explicit)


def resolve_explicit(explicit: dict[str, Any]) -> Resolution:
    """The raw values of every config source under the explicit arguments."""
    site = explicit.get("site")
    if site is not None and not isinstance(site, str):
        # as 0.15: a site that is not a name is a site that is not configured
        raise unknown_site(
            f"The site {site!r} is not a site name: site= takes the name of a [sites.<name>] "
            f"table or a configured domain, as a string (got {type(site).__name__})."
        )
    if isinstance(site, str) and site.strip():
        # a site given by its domain is recorded under its name
        explicit = {
            **explicit,
            "site": read_sites().find(site.strip(), "the site= argument") or site,
        }
    # pluggy and the plugins load only once a configuration is resolved: anaconda-cli-base
    # imports the sites at every start of `anaconda` to offer `--at <site>`
    from anaconda_auth.manager import get_plugin_manager

    sources = get_plugin_manager().get_config_sources()
    return resolve(explicit, sources, FIELD_NAMES, NON_FIELD_KEYS, TABLE_FIELDS)


def validate_into(model: AnacondaAuthSite, resolution: Resolution) -> None:
    try:
        AnacondaAuthSite.__init__(model, **resolution.values)
    except ValidationError as exc:
        error = exc
    else:
        _check_together(model, resolution)
        return
    # raised outside the except block: the ValidationError (which holds the raw input, maybe
    # a secret) is not even attached as __context__
    raise_config_error(error, resolution.origins, EXPECTED, resolution.values)


def _check_together(model: AnacondaAuthSite, resolution: Resolution) -> None:
    """Settings that are only valid together, checked once every source is merged."""
    if model.client_cert_key and not model.client_cert:
        origin = resolution.origin("client_cert_key")
        where = "the client_cert_key= argument" if origin.source == "explicit" else origin.location
        raise config_error(
            f"Invalid client_cert_key from {where}: it is set but client_cert is not. "
            "Expected client_cert (the certificate) with it, or neither."
        )
