"""The ``anaconda-auth`` channel auth handler: conda asks it for the credential of every
request to a channel whose ``channel_settings`` name it.

Credential selection (as 0.15): ``ANACONDA_AUTH_API_KEY`` first; then the stored login of the
channel's auth domain (the channel host, or the domain :data:`TOKEN_DOMAIN_MAP` gives it, or
the ``auth_domain`` extra): its API key as ``Bearer``, or — for the ``repo-token`` credential
type — the repo token of the organization named by the channel path (``/repo/<org>/...``),
else the first stored repo token, as ``token``; finally a legacy (binstar) token of the host.

Better than 0.15: an expired API key is not sent and conda reports it as expired; an unknown
``credential_type`` in the condarc is a clear error; the credential is attached only to URLs
that ``channel_settings`` map to this handler (so a redirect elsewhere never carries it);
once a response arrives, the header in its request object is masked, because conda logs it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from fnmatch import fnmatch
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import ParseResult, urlparse

from conda import CondaError
from conda.plugins.types import ChannelAuthBase
from requests import PreparedRequest, Response

from anaconda_auth._conda import repo_config
from anaconda_auth._conda.config import HANDLER_NAME, TOKEN_DOMAIN_MAP, CredentialType

log = logging.getLogger(__name__)

URI_PREFIX = "/repo/"
REPO_ANACONDA_CLOUD = "repo.anaconda.cloud"


class AccessCredential(NamedTuple):
    value: str | None
    type: CredentialType
    #: When the (API key) credential expired, if it did: then ``value`` is None.
    expired_at: dt.datetime | None = None


class AnacondaAuthError(CondaError):  # type: ignore[misc]
    """An error conda reports as a message, without a traceback."""


def _matches(url: str, pattern: str, name: str) -> bool:
    """conda's rule for a ``channel_settings`` entry: the exact channel name, or a URL
    pattern with the same scheme matched against host + path."""
    if pattern == name:
        return True
    parsed, setting = urlparse(url), urlparse(pattern)
    if not setting.scheme or setting.scheme != parsed.scheme:
        return False
    return fnmatch(parsed.netloc + parsed.path, setting.netloc + setting.path)


def _channel_settings() -> list[dict[str, Any]]:
    from conda.base.context import context

    return [s for s in context.channel_settings if isinstance(s, dict)]


def _conda_logs_requests() -> bool:
    return logging.getLogger("conda").getEffectiveLevel() <= logging.INFO


def _mask(response: Response) -> None:
    """Hide the credential in ``response.request`` once it has been sent, when conda is about
    to log that request's headers (``-vvv``: INFO). Not for a redirect, whose follow-up
    requests copies."""
    request = response.request
    if response.is_redirect or request is None or not _conda_logs_requests():
        return
    value = request.headers.get("Authorization")
    if isinstance(value, str) and " " in value:
        request.headers["Authorization"] = value.split(" ", 1)[0] + " <hidden>"


def _load_channel_settings(channel_name: str) -> dict[str, Any]:
    """The last ``channel_settings`` entry that matches ``channel_name`` (a URL)."""
    url = channel_name if channel_name.endswith("/") else channel_name + "/"
    parsed = urlparse(url)
    if not parsed.scheme or not parsed.netloc:
        return {}
    found: dict[str, Any] = {}
    for settings in _channel_settings():
        if _matches(url, str(settings.get("channel", "")), channel_name):
            found = settings
    return found


class AnacondaAuthHandlerExtraSettings(NamedTuple):
    override_auth_domain: str | None = None
    override_credential_type: CredentialType | None = None

    @classmethod
    def from_channel_name(cls, channel_name: str) -> AnacondaAuthHandlerExtraSettings:
        settings = _load_channel_settings(channel_name)
        domain = settings.get("auth_domain")
        kind = settings.get("credential_type")
        credential_type = None
        if kind is not None:
            try:
                credential_type = CredentialType(str(kind))
            except ValueError:
                known = ", ".join(repr(c.value) for c in CredentialType)
                raise AnacondaAuthError(
                    f"Error when loading anaconda-auth extra configuration from your condarc: "
                    f"channel_settings for {settings.get('channel')} name credential_type "
                    f"{kind!r}, which anaconda-auth does not know (use one of {known})."
                ) from None
        if domain is not None and not isinstance(domain, str):
            raise AnacondaAuthError(
                "Error when loading anaconda-auth extra configuration from your condarc: "
                f"auth_domain of {settings.get('channel')} must be a host name."
            )
        return cls(domain or None, credential_type)


class AnacondaAuthHandler(ChannelAuthBase):  # type: ignore[misc]
    def __init__(self, channel_name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(channel_name, *args, **kwargs)
        self._extras = AnacondaAuthHandlerExtraSettings.from_channel_name(channel_name)

    # -- where the credential comes from ---------------------------------------------------

    def _load_token_domain(self, parsed_url: ParseResult) -> tuple[str, CredentialType]:
        channel_domain = parsed_url.netloc.lower()
        token_domain, credential_type = channel_domain, CredentialType.API_KEY
        if channel_domain in TOKEN_DOMAIN_MAP:
            token_domain, credential_type, _ = TOKEN_DOMAIN_MAP[channel_domain]
        from anaconda_auth.config import AnacondaAuthConfig

        config = AnacondaAuthConfig(domain=token_domain)
        if getattr(config, "use_unified_repo_api_key", False):
            credential_type = CredentialType.API_KEY
        if self._extras.override_auth_domain:
            token_domain = self._extras.override_auth_domain
        if self._extras.override_credential_type:
            credential_type = self._extras.override_credential_type
        return token_domain, credential_type

    def _load_token_from_keyring(
        self, token_domain: str, credential_type: CredentialType, parsed_url: ParseResult
    ) -> AccessCredential | None:
        from anaconda_auth.exceptions import TokenNotFoundError
        from anaconda_auth.token import TokenInfo

        try:
            token_info = TokenInfo.load(token_domain)
        except TokenNotFoundError:
            return None
        expired_at = None
        if token_info.api_key and credential_type == CredentialType.API_KEY:
            if not token_info.expired:
                return AccessCredential(token_info.api_key, CredentialType.API_KEY)
            expired_at = token_info.expires_at
        path = parsed_url.path
        if path.startswith(URI_PREFIX):
            path = path[len(URI_PREFIX) :]
        maybe_org = path.partition("/")[0]
        try:
            return AccessCredential(token_info.get_repo_token(maybe_org), CredentialType.REPO_TOKEN)
        except TokenNotFoundError:
            pass
        if token_info.repo_tokens:
            return AccessCredential(token_info.repo_tokens[0].token, CredentialType.REPO_TOKEN)
        if expired_at is not None:
            return AccessCredential(None, CredentialType.API_KEY, expired_at)
        return None

    @staticmethod
    def _load_token_via_conda_token(parsed_url: ParseResult) -> AccessCredential | None:
        domain = parsed_url.netloc.lower()
        for token_url, token in repo_config.token_list().items():
            if urlparse(token_url).netloc.lower() == domain and token:
                return AccessCredential(token, CredentialType.REPO_TOKEN)
        return None

    @lru_cache  # noqa: B019 (one handler per channel and process, as in conda)
    def _load_token(self, url: str) -> AccessCredential:
        parsed_url = urlparse(url)
        token_domain, credential_type = self._load_token_domain(parsed_url)
        found = self._load_token_from_keyring(token_domain, credential_type, parsed_url)
        if found is not None and found.value:
            return found
        legacy = self._load_token_via_conda_token(parsed_url)
        if legacy is not None:
            return legacy
        return found or AccessCredential(None, credential_type)

    def _build_header(self, url: str) -> tuple[str | None, CredentialType]:
        """The ``Authorization`` value for ``url`` (or None) and the credential type (0.15)."""
        header, credential = self._build_credential(url)
        return header, credential.type

    @lru_cache  # noqa: B019
    def _build_credential(self, url: str) -> tuple[str | None, AccessCredential]:
        if api_key := os.getenv("ANACONDA_AUTH_API_KEY"):
            return f"Bearer {api_key}", AccessCredential(api_key, CredentialType.API_KEY)
        try:
            token = self._load_token(url)
        except Exception as exc:  # a broken store must not stop conda from reaching a channel
            log.debug("no credential for %s: %s", self.channel_name, type(exc).__name__)
            return None, AccessCredential(None, CredentialType.API_KEY)
        if token.value is None:
            return None, token
        scheme = "token" if token.type == CredentialType.REPO_TOKEN else "Bearer"
        return f"{scheme} {token.value}", token

    def _mapped(self, url: str) -> bool:
        """Whether ``channel_settings`` map ``url`` to this handler."""
        found: dict[str, Any] = {}
        for settings in _channel_settings():
            if _matches(url, str(settings.get("channel", "")), self.channel_name):
                found = settings
        if not found:
            # conda chose this handler for the channel by name, or by a pattern conda matched
            # differently: the channel's own host only.
            channel = urlparse(self.channel_name)
            if not channel.scheme:
                return True
            return (channel.scheme, channel.netloc.lower()) == (
                urlparse(url).scheme,
                urlparse(url).netloc.lower(),
            )
        return str(found.get("auth", "")).strip() == HANDLER_NAME

    # -- errors ----------------------------------------------------------------------------

    def _build_response_handler(self, credential: AccessCredential) -> Any:
        instruction = (
            "anaconda token install"
            if credential.type == CredentialType.REPO_TOKEN
            else "anaconda login"
        )

        def handler(response: Response, **kwargs: Any) -> Response:
            if response.status_code not in {401, 403}:
                _mask(response)
                return response
            request = response.request
            parsed_url = urlparse(request.url or "")
            if (
                parsed_url.netloc.lower() == REPO_ANACONDA_CLOUD
                and credential.type == CredentialType.API_KEY
            ):
                token_domain, _ = self._load_token_domain(parsed_url)
                fallback = self._load_token_from_keyring(
                    token_domain, CredentialType.REPO_TOKEN, parsed_url
                ) or self._load_token_via_conda_token(parsed_url)
                if fallback and fallback.value and fallback.type == CredentialType.REPO_TOKEN:
                    _ = response.content
                    response.close()
                    retry = request.copy()
                    retry.headers["Authorization"] = f"token {fallback.value}"
                    sent: Response = response.connection.send(retry, **kwargs)
                    _mask(sent)
                    return sent
            if credential.expired_at is not None:
                when = credential.expired_at.strftime("%Y-%m-%d %H:%M UTC")
                message = (
                    f"Your API key for {self.channel_name} expired on {when}. "
                    "Please log in again with `anaconda login`."
                )
            elif request.headers.get("Authorization") is not None:
                message = (
                    f"Received authentication error ({response.status_code}) when accessing "
                    f"{self.channel_name}. If your token is invalid or expired, please "
                    f"re-install with `{instruction}`."
                )
            else:
                message = (
                    f"Token not found for {self.channel_name}. "
                    f"Please install token with `{instruction}`."
                )
            raise AnacondaAuthError(message)

        return handler

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        if request.url is None:
            return request
        header, credential = self._build_credential(request.url)
        request.register_hook("response", self._build_response_handler(credential))  # type: ignore[no-untyped-call]
        if header and self._mapped(request.url):
            request.headers["Authorization"] = header
        return request
