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
