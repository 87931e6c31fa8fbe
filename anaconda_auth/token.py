"""Stored login tokens, in the format the existing anaconda-auth writes.

An entry lives under service :data:`KEYRING_NAME`, username = the domain; its value is the
base64 of the :class:`TokenInfo` JSON with ``None`` fields left out.

The storage layer (and with it pluggy and the plugins) is imported when a token is first read
or written, not with this module: anaconda-cli-base imports ``TokenInfo`` at every start.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import time
from typing import TYPE_CHECKING, Any, NoReturn, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anaconda_auth.config import memo as config_memo
from anaconda_auth.config.model import AnacondaAuthConfig
from anaconda_auth.exceptions import StorageError, TokenExpiredError, TokenNotFoundError
from anaconda_auth.plugin_types import KEYRING_NAME as KEYRING_NAME
from anaconda_auth.plugin_types import TOKEN_INFO_VERSION as TOKEN_INFO_VERSION
from anaconda_auth.plugin_types import current_config
from anaconda_auth.token_claims import expiry, expiry_epoch
from anaconda_auth.token_claims import jwt_claims as jwt_claims  # importable here, as before

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.storage.keyring_015 import AnacondaKeyring as AnacondaKeyring
    from anaconda_auth.storage.keyring_015 import ConfigKeyring as ConfigKeyring

log = logging.getLogger(__name__)


#: Older domains whose tokens are moved to the new domain the first time they are read.
MIGRATIONS: dict[str, list[str]] = {"anaconda.com": ["id.anaconda.cloud", "anaconda.cloud"]}

# Type aliases of anaconda-auth 0.15.
LocalKeyringData = dict[str, dict[str, str]]
OrgName = str
TokenString = str

#: 0.15's keyring backends, defined on first access (anaconda_auth.storage.keyring_015): a
#: ``keyring`` backend class is registered with keyring as soon as it is defined, and importing
#: ``keyring`` costs time at every start of anaconda-cli-base. They never become keyring's
#: default (see that module).
_KEYRING_BACKENDS = frozenset({"AnacondaKeyring", "ConfigKeyring"})
#: 0.15's keyring backend that read Anaconda Navigator's token file: not carried over.
_REMOVED_BACKENDS = frozenset({"NavigatorFallback"})


if not TYPE_CHECKING:  # a runtime hint only: type checkers keep reporting unknown names

    def __getattr__(name: str) -> Any:
        if name in _KEYRING_BACKENDS:
            from anaconda_auth.storage import keyring_015

            return getattr(keyring_015, name)
        _no_attribute(name)


def _no_attribute(name: str) -> NoReturn:
    if name in _REMOVED_BACKENDS:
        raise AttributeError(
            f"anaconda_auth.token.{name} was a keyring backend in anaconda-auth 0.15 that read "
            "Anaconda Navigator's token file; it is not carried over. Log in with `anaconda "
            'login` (see README, "Compatibility with 0.15").'
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default_domain() -> str:
    return AnacondaAuthConfig().domain


class RepoToken(BaseModel):
    token: TokenString = Field(repr=False)
    org_name: OrgName | None = None


class TokenInfo(BaseModel):
    """The stored login for one domain: the API key, the username and the repo tokens.

    ``source`` names the storage backend :meth:`load` found it in. When an API key is
    configured (``ANACONDA_AUTH_API_KEY``, ``api_key``) it wins, ``source`` is
    ``"environment"``, and the repo tokens stored in the preferred backend are kept alongside
    it; saving such a token never writes the configured key into a store.
    """

    model_config = ConfigDict(extra="ignore")

    domain: str = Field(default_factory=_default_domain)
    api_key: str | None = Field(default=None, repr=False)
    username: str | None = None
    repo_tokens: list[RepoToken] = []
    version: int | None = TOKEN_INFO_VERSION

    #: Name of the storage backend the token was loaded from (not serialised).
    _source: str | None = None
    #: The API key a read-only backend (the configuration) supplied: never written to a store.
    _configured_key: str | None = None

    @property
    def source(self) -> str | None:
        """Where :meth:`load` found this token ("anaconda-keyring", "environment", ...)."""
        return self._source

    @staticmethod
    def _decode(value: str) -> dict[str, Any]:
        try:
            data = json.loads(base64.b64decode(value))
        except (ValueError, binascii.Error):
            raise StorageError(
                "A stored token is not valid base64 JSON; log in again with "
                "`anaconda auth login --force`."
            ) from None
        if not isinstance(data, dict):
            raise StorageError("A stored token is not a JSON object; log in again.")
        return data

    def _encode(self) -> str:
        payload = self.model_dump_json(exclude_none=True)
        return base64.b64encode(payload.encode()).decode()

    @classmethod
    def _from_stored(cls, value: str, source: str) -> TokenInfo:
        # A token is read on every request of a client: the decoded form of the last few
        # stored values is kept, and each caller gets its own copy (repo tokens included).
        key = (cls, value)
        template = _decoded.get(key)
        if template is None:
            try:
                template = cls.model_validate(cls._decode(value))
            except ValidationError as exc:
                fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
                raise StorageError(
                    f"A token stored in {source!r} has invalid fields ({fields}); log in again "
                    "with `anaconda auth login --force`."
                ) from None
            if len(_decoded) >= _DECODED_MAX:
                _decoded.clear()
            _decoded[key] = template
        # (repo tokens through __dict__: an attribute assignment marks the field as set)
        info = _copy_token(template)
        info._source = source
        return info

    @classmethod
    def load(
        cls,
        domain: str | None = None,
        *,
        create: bool = False,
        config: AnacondaAuthSite | None = None,
    ) -> TokenInfo:
        """The stored token for ``domain`` (default: the configured domain).

        ``config`` (a site's configuration) selects the storage and the configured API key;
        by default the current configuration. Raises :class:`TokenNotFoundError` when none is
        stored, unless ``create``; :class:`StorageError` when a store cannot be read.
        """
        from anaconda_auth.storage import access, token_memo

        manager = None
        entry = None
        requested = domain
        if config is None:
            if not create:
                remembered = token_memo.peek(cls, requested)
                if remembered is not None:
                    return _copy_token(remembered)
            # The memoised configuration comes with the plugin manager it was checked against.
            hot = config_memo.current(AnacondaAuthConfig)
            if hot is not None:
                config, entry = cast("AnacondaAuthConfig", hot[0]), hot[1]
                manager = entry.fingerprint.pm
            else:
                config = AnacondaAuthConfig()
        domain = domain or config.domain
        if config.account is not None and domain == config.domain:
            pinned = cls._load_pinned(domain, config.account, config, create)
            if pinned is not None:
                return pinned
        found = access.read(KEYRING_NAME, domain, config, manager=manager)
        if found is not None:
            value, backend = found
            info = cls._from_stored(value, backend.name)
            if entry is not None and manager is not None and not backend.read_only:
                token_memo.remember(
                    cls, requested, domain, config, entry, manager, found, _copy_token(info)
                )
            if backend.read_only:
                info._configured_key = info.api_key
                try:
                    stored = cls._stored_in_preferred(domain, config)
                except StorageError as exc:  # the configured key works without the store
                    log.debug("stored repo tokens not read: %s", exc)
                else:
                    if stored is not None:
                        info.repo_tokens = stored.repo_tokens
            return info
        for legacy in MIGRATIONS.get(domain, []):
            found = access.read(KEYRING_NAME, legacy, config, writable_only=True)
            if found is not None:
                data = cls._decode(found[0])
                data.update(domain=domain, version=TOKEN_INFO_VERSION)
                info = cls.model_validate(data)
                info.save(config=config)
                access.delete(KEYRING_NAME, legacy, config)
                log.debug("token migrated from legacy domain %s to %s", legacy, domain)
                return info
        if create:
            return cls(domain=domain)
        raise TokenNotFoundError(f"No stored token for {domain}; log in with `anaconda login`.")

    @classmethod
    def _load_pinned(
        cls, domain: str, account: str, config: AnacondaAuthSite, create: bool
    ) -> TokenInfo | None:
        """A site pinning ``account``: its inactive entry, when another account is active.

        ``None`` when the active entry is that account, or a configured key (the environment)
        answers: the ordinary read then applies. Several accounts: docs/dev/decisions/0049.
        """
        from anaconda_auth.storage import access, accounts

        found = access.read(KEYRING_NAME, domain, config)
        if found is not None and (found[1].read_only or accounts.account_of(found[0]) == account):
            return None
        name = accounts.slot_name(domain, account)
        slot = access.read(KEYRING_NAME, name, config, writable_only=True)
        if slot is None:
            if create:
                return cls(domain=domain)
            raise TokenNotFoundError(
                f"No stored token for {account} at {domain} (the site pins account = "
                f"{account!r}); log in as {account} with `anaconda login`."
            )
        info = cls._from_stored(slot[0], slot[1].name)
        info.domain = domain
        return info

    @classmethod
    def _stored_in_preferred(cls, domain: str, config: AnacondaAuthSite) -> TokenInfo | None:
        """The entry in the preferred backend alone (under a configured key, the one saved to)."""
        from anaconda_auth.storage import access

        value = access.read_preferred(KEYRING_NAME, domain, config)
        if value is None:
            return None
        return cls._from_stored(value, config.preferred_token_storage)

    def _copy_private(self, other: TokenInfo) -> None:
        self._source = other._source
        self._configured_key = other._configured_key

    def save(self, *, config: AnacondaAuthSite | None = None) -> None:
        """Write the token to the preferred storage backend.

        A key that came from the configuration (``ANACONDA_AUTH_API_KEY``) is not written: the
        entry keeps the key stored before, with this object's repo tokens.
        """
        from anaconda_auth.storage import access

        config = config if config is not None else current_config()
        payload = self
        if self._configured_key is not None and self.api_key == self._configured_key:
            stored = self._stored_in_preferred(self.domain, config)
            payload = self.model_copy(
                update={
                    "api_key": stored.api_key if stored else None,
                    "username": self.username or (stored.username if stored else None),
                }
            )
        backend = access.write(KEYRING_NAME, self._entry_name(config), payload._encode(), config)
        if payload is self:
            self._source = backend.name
        log.debug("token for %s stored in %s", self.domain, backend.name)

    def _entry_name(self, config: AnacondaAuthSite) -> str:
        """The storage username to save to: the domain, unless the site pins an account that
        is stored inactive (then its own entry, so the active account is left alone)."""
        pinned = config.account
        if pinned is None or self.username != pinned or self.domain != config.domain:
            return self.domain
        from anaconda_auth.storage import accounts

        if accounts.active(self.domain, config) in (None, pinned):
            return self.domain
        if accounts.inactive_value(self.domain, pinned, config) is None:
            return self.domain
        return accounts.slot_name(self.domain, pinned)

    def delete(self, *, config: AnacondaAuthSite | None = None) -> None:
        """Remove the token from every writable backend; :class:`TokenNotFoundError` if none."""
        from anaconda_auth.storage import access

        if not access.delete(KEYRING_NAME, self.domain, config):
            raise TokenNotFoundError(f"No stored token for {self.domain}.")

    @property
    def expires_at(self) -> dt.datetime | None:
        """The API key's ``exp`` claim as an aware UTC datetime.

        ``None`` without a key, or for a key that is not a JWT or has no numeric ``exp``.
        """
        if self.api_key is None:
            return None
        return expiry(self.api_key)

    @property
    def expired(self) -> bool:
        """No key, or a key whose ``exp`` (UTC) is not in the future.

        A key without a readable expiry is not expired here: the server decides.
        """
        api_key = self.api_key
        if api_key is None:
            return True
        expires = expiry_epoch(api_key)
        return expires is not None and expires <= time.time()

    def get_access_token(self) -> str:
        """The API key, loading it from storage if needed; raises if missing or expired."""
        if self.api_key is None:
            try:
                stored = TokenInfo.load(self.domain)
            except TokenNotFoundError:
                raise TokenNotFoundError(
                    "No token found, please log in with `anaconda login`"
                ) from None
            self.username = stored.username
            self.api_key = stored.api_key
            self.repo_tokens = stored.repo_tokens
            self._copy_private(stored)
        assert self.api_key is not None
        if self.expired:
            expires = self.expires_at
            when = f" on {expires:%Y-%m-%d %H:%M UTC}" if expires is not None else ""
            raise TokenExpiredError(
                f"Your login token has expired: the API key for {self.domain} expired{when}. "
                "Please log in again using\n  anaconda login --force",
                domain=self.domain,
                expires_at=expires,
            )
        return self.api_key

    def set_repo_token(self, org_name: str, token: str) -> None:
        self.repo_tokens[:] = [t for t in self.repo_tokens if t.org_name != org_name]
        self.repo_tokens.append(RepoToken(org_name=org_name, token=token))

    def get_repo_token(self, org_name: str) -> str:
        for t in self.repo_tokens:
            if t.org_name == org_name:
                return t.token
        raise TokenNotFoundError(f"Could not find repo token for org {org_name}")

    def delete_repo_token(self, org_name: str) -> None:
        self.repo_tokens[:] = [t for t in self.repo_tokens if t.org_name != org_name]

    def delete_all_repo_token(self) -> None:
        self.repo_tokens[:] = []


_DECODED_MAX = 16
#: Decoded stored values (see ``TokenInfo._from_stored``); never handed out, only copied.
_decoded: dict[tuple[type[TokenInfo], str], TokenInfo] = {}


def _copy_token(info: TokenInfo) -> TokenInfo:
    copy = info.model_copy()  # (private attributes are copied too)
    copy.__dict__["repo_tokens"] = [t.model_copy() for t in info.repo_tokens]
    return copy
