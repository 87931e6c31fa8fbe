"""Configuration: the ``AnacondaAuthConfig`` model and the merge of its sources.

Sources are plugins (see :mod:`anaconda_auth.plugins.config_sources`) merged by rank; values
are resolved every time a config object is built, so changes to the environment or to the
files are seen at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from anaconda_auth import __version__

#: Ranks of the built-in sources; explicit arguments always win over every source.
SOURCE_RANKS: dict[str, int] = {
    "environment": 600,
    "secrets-dir": 500,
    "dotenv": 400,
    "site": 300,
    "config-toml": 200,
}

DEFAULT_CLIENT_ID = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a"


class AnacondaAuthSite(BaseModel):
    """The settings of one site (domain); the field names match the existing anaconda-auth."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True, validate_default=True)

    site: str | None = Field(default=None, exclude=True)
    domain: str = "anaconda.com"
    auth_domain_override: str | None = None
    ssl_verify: bool | str = True
    preferred_token_storage: str = "anaconda-keyring"
    api_key: str | None = Field(default=None, repr=False)
    keyring_path: Path = Path("~/.anaconda/keyring")
    extra_headers: dict[str, str] | str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    redirect_uri: str = "http://127.0.0.1:8000/auth/oidc"
    openid_config_path: str = "/.well-known/openid-configuration"
    oidc_request_headers: dict[str, str] = {"User-Agent": f"anaconda-auth/{__version__}"}
    login_success_path: str = "/app/local-login-success"
    login_error_path: str = "/app/local-login-error"
    use_device_flow: bool = False
    proxy_servers: dict[str, str] | None = None
    client_cert: str | None = None
    client_cert_key: str | None = None
    hash_hostname: bool = True
    disabled_plugins: list[str] = []

    @field_validator("domain", "auth_domain_override", mode="before")
    @classmethod
    def _host_only(cls, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        url = value if re.match(r"https?://", value) else f"https://{value}"
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"{value!r} does not look like a domain name")
        return parsed.netloc

    @field_validator("keyring_path", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("ssl_verify", mode="before")
    @classmethod
    def _ssl_verify(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"0", "false", "no", "off"}:
                return False
            if lowered in {"1", "true", "yes", "on"}:
                return True
        return value

    @property
    def auth_domain(self) -> str:
        return self.auth_domain_override or self.domain

    @property
    def well_known_url(self) -> str:
        return urljoin(f"https://{self.auth_domain}", self.openid_config_path)

    @property
    def login_success_url(self) -> str:
        return urljoin(f"https://{self.domain}", self.login_success_path)

    @property
    def login_error_url(self) -> str:
        return urljoin(f"https://{self.domain}", self.login_error_path)


class AnacondaAuthConfig(AnacondaAuthSite):
    """The resolved configuration: explicit keyword arguments over every configured source."""

    def __init__(self, **explicit: Any) -> None:
        from anaconda_auth.config_loader import resolve

        super().__init__(**resolve(explicit))
