"""Names and numbers of the configuration that lower layers need without the model.

The config sources (a plugin, loaded by the plugin manager) and the loader use these; the
pydantic model in :mod:`anaconda_auth.config.model` checks at import that :data:`FIELD_NAMES`
matches its fields.
"""

from __future__ import annotations

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
NON_FIELD_KEYS: frozenset[str] = frozenset({"keyring_passphrase", "keyring_timeout"})

#: Shown instead of a secret value.
MASK = "********"

#: Where a value came from, for values not from a config source.
EXPLICIT = "explicit"
DEFAULT = "default"

#: The site used when ``config.toml`` has no ``[sites]`` table for it.
IMPLICIT_SITE = DEFAULT_DOMAIN

#: Every field of the configuration model, in its order.
FIELD_NAMES: tuple[str, ...] = (
    "site",
    "domain",
    "auth_domain_override",
    "ssl_verify",
    "preferred_token_storage",
    "api_key",
    "keyring_path",
    "extra_headers",
    "client_id",
    "redirect_uri",
    "openid_config_path",
    "oidc_request_headers",
    "login_success_path",
    "login_error_path",
    "use_device_flow",
    "proxy_servers",
    "client_cert",
    "client_cert_key",
    "hash_hostname",
    "http_timeout",
    "max_retries",
    "login_timeout",
    "expiry_warning_days",
    "disabled_plugins",
    "keyring",
    "use_unified_repo_api_key",
    "disable_conda_auto_config",
    "env_manager_channel",
    "env_manager_package",
    "env_manager_version",
    "account",
)

#: Fields that take a table, which ``<PREFIX><FIELD>__<ENTRY>`` names set one entry of in the
#: environment, ``.env`` and the secrets directory (pydantic-settings' ``env_nested_delimiter``
#: of anaconda-auth 0.15): ``ANACONDA_AUTH_PROXY_SERVERS__HTTPS`` -> ``proxy_servers["https"]``.
NESTED_FIELDS: frozenset[str] = frozenset(
    {"proxy_servers", "extra_headers", "oidc_request_headers"}
)
NESTED_DELIMITER = "__"

#: The table fields, which merge entry by entry across places (as in anaconda-auth 0.15), and
#: whether their entry names compare in any case (HTTP header names do).
TABLE_FIELDS: dict[str, bool] = {
    "proxy_servers": False,
    "extra_headers": True,
    "oidc_request_headers": True,
}

#: The prefix of the deprecated names anaconda-auth 0.15 still read (anaconda-cloud-auth's).
LEGACY_ENV_PREFIX = "ANACONDA_CLOUD_"


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
    "http_timeout": "a positive number of seconds, at most 86400 (one day)",
    "login_timeout": "a positive number of seconds, at most 86400 (one day)",
    "expiry_warning_days": "a number of days from 0 to 3650 (0: never warn)",
    "max_retries": "a whole number from 0 to 20",
    "disabled_plugins": "a list of plugin names (or a comma-separated string, or a JSON list)",
    "keyring": "a TOML table of service names to tables of user names to passwords, or the "
    "same as a JSON object string",
    "use_unified_repo_api_key": _BOOL,
    "disable_conda_auto_config": _BOOL,
    "env_manager_channel": "a conda channel name (a string)",
    "env_manager_package": "a conda package name (a string)",
    "env_manager_version": 'a version such as "1.2.3" or a constraint such as ">=1.2"',
    "account": "an account name such as you@example.com (a string)",
}
