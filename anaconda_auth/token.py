"""Stored login tokens, in the format the existing anaconda-auth writes.

An entry lives under service :data:`KEYRING_NAME`, username = the domain; its value is the
base64 of the :class:`TokenInfo` JSON with ``None`` fields left out.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anaconda_auth.exceptions import StorageError, TokenExpiredError, TokenNotFoundError
from anaconda_auth.plugin_discovery import load_pydantic_plugins

# perf: pydantic looks for its plugins when the first model class below is created, reading
# every distribution's entry_points.txt; let it look through the stat-validated cache instead.
load_pydantic_plugins()

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.manager import AnacondaAuthPluginManager

log = logging.getLogger(__name__)

KEYRING_NAME = "Anaconda Cloud"
TOKEN_INFO_VERSION = 2

#: Older domains whose tokens are moved to the new domain the first time they are read.
MIGRATIONS: dict[str, list[str]] = {"anaconda.com": ["id.anaconda.cloud", "anaconda.cloud"]}

# Type aliases of anaconda-auth 0.15.
LocalKeyringData = dict[str, dict[str, str]]
OrgName = str
TokenString = str

#: keyring backends 0.15 defined here. Defining a ``keyring`` backend class registers it for
#: every program in the process (pip and twine included), so they are gone on purpose.
_REMOVED_BACKENDS = frozenset({"AnacondaKeyring", "ConfigKeyring", "NavigatorFallback"})


if not TYPE_CHECKING:  # a runtime hint only: type checkers keep reporting unknown names

    def __getattr__(name: str) -> Any:
        _no_attribute(name)


def _no_attribute(name: str) -> NoReturn:
    if name in _REMOVED_BACKENDS:
        raise AttributeError(
            f"anaconda_auth.token.{name} was a keyring backend in anaconda-auth 0.15 and no "
            "longer exists: anaconda-auth does not register keyring backends (that changed "
            "what pip and twine got from keyring). Tokens are kept by storage backends: use "
            "TokenInfo.load()/save(), or anaconda_auth.storage_backends (see README, "
            '"Compatibility with 0.15").'
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default_domain() -> str:
    from anaconda_auth.config import AnacondaAuthConfig

    return AnacondaAuthConfig().domain


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying the signature (the server verifies it)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise ValueError("the API key is not a JWT") from exc
    if not isinstance(claims, dict):
        raise ValueError("the API key is not a JWT")
    return claims


_EXPIRY_MAX = 16
_expiries: dict[str, dt.datetime | None] = {}


def _expiry(api_key: str) -> dt.datetime | None:
    """The ``exp`` claim of an API key as an aware UTC datetime (remembered per key)."""
    try:
        return _expiries[api_key]
    except KeyError:
        pass
    expires: dt.datetime | None = None
    try:
        exp = jwt_claims(api_key).get("exp")
    except ValueError:
        exp = None
    if not isinstance(exp, bool) and isinstance(exp, (int, float)):
        try:
            expires = dt.datetime.fromtimestamp(exp, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            expires = None
    if len(_expiries) >= _EXPIRY_MAX:
        _expiries.clear()
        _expiry_seconds.clear()
    _expiries[api_key] = expires
    return expires


#: perf: the same expiries as POSIX seconds, for ``expired`` (checked on every request of a
#: client): comparing with ``time.time()`` skips building an aware datetime per call.
_expiry_seconds: dict[str, float | None] = {}


def _expiry_epoch(api_key: str) -> float | None:
    try:
        return _expiry_seconds[api_key]
    except KeyError:
        pass
    expires = _expiry(api_key)
    seconds = expires.timestamp() if expires is not None else None
    if len(_expiry_seconds) >= _EXPIRY_MAX:
        _expiry_seconds.clear()
    _expiry_seconds[api_key] = seconds
    return seconds


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
        from anaconda_auth import token_storage

        manager = None
        entry = None
        requested = domain
        if config is None:
            if not create:
                remembered = _remembered_load(cls, requested)
                if remembered is not None:
                    return remembered
            from anaconda_auth import _config_cache
            from anaconda_auth.config import AnacondaAuthConfig

            # The memoised configuration comes with the plugin manager it was checked against.
            hot = _config_cache.current(AnacondaAuthConfig)
            if hot is not None:
                config, entry = cast("AnacondaAuthConfig", hot[0]), hot[1]
                manager = entry.fingerprint.pm
            else:
                config = AnacondaAuthConfig()
        domain = domain or config.domain
        found = token_storage.read(KEYRING_NAME, domain, config, manager=manager)
        if found is not None:
            value, backend = found
            info = cls._from_stored(value, backend.name)
            if entry is not None and manager is not None and not backend.read_only:
                _remember_load(cls, requested, domain, config, entry, manager, found, info)
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
            found = token_storage.read(KEYRING_NAME, legacy, config, writable_only=True)
            if found is not None:
                data = cls._decode(found[0])
                data.update(domain=domain, version=TOKEN_INFO_VERSION)
                info = cls.model_validate(data)
                info.save(config=config)
                token_storage.delete(KEYRING_NAME, legacy, config)
                log.debug("token migrated from legacy domain %s to %s", legacy, domain)
                return info
        if create:
            return cls(domain=domain)
        raise TokenNotFoundError(f"No stored token for {domain}; log in with `anaconda login`.")

    @classmethod
    def _stored_in_preferred(cls, domain: str, config: AnacondaAuthSite) -> TokenInfo | None:
        """The entry in the preferred backend alone (under a configured key, the one saved to)."""
        from anaconda_auth import token_storage

        value = token_storage.read_preferred(KEYRING_NAME, domain, config)
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
        from anaconda_auth import token_storage

        config = config if config is not None else token_storage.current_config()
        payload = self
        if self._configured_key is not None and self.api_key == self._configured_key:
            stored = self._stored_in_preferred(self.domain, config)
            payload = self.model_copy(
                update={
                    "api_key": stored.api_key if stored else None,
                    "username": self.username or (stored.username if stored else None),
                }
            )
        backend = token_storage.write(KEYRING_NAME, self.domain, payload._encode(), config)
        if payload is self:
            self._source = backend.name
        log.debug("token for %s stored in %s", self.domain, backend.name)

    def delete(self, *, config: AnacondaAuthSite | None = None) -> None:
        """Remove the token from every writable backend; :class:`TokenNotFoundError` if none."""
        from anaconda_auth import token_storage

        if not token_storage.delete(KEYRING_NAME, self.domain, config):
            raise TokenNotFoundError(f"No stored token for {self.domain}.")

    @property
    def expires_at(self) -> dt.datetime | None:
        """The API key's ``exp`` claim as an aware UTC datetime.

        ``None`` without a key, or for a key that is not a JWT or has no numeric ``exp``.
        """
        if self.api_key is None:
            return None
        return _expiry(self.api_key)

    @property
    def expired(self) -> bool:
        """No key, or a key whose ``exp`` (UTC) is not in the future.

        A key without a readable expiry is not expired here: the server decides.
        """
        api_key = self.api_key
        if api_key is None:
            return True
        expires = _expiry_epoch(api_key)  # perf: was expires_at <= datetime.now(timezone.utc)
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
            raise TokenExpiredError(
                "Your login token has expired. Please log in again using\n  anaconda login --force"
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


@dataclass(frozen=True)
class _RememberedLoad:
    """``TokenInfo.load(domain)`` with the current configuration, found in a writable store:
    valid while the memoised configuration (``entry``) and the remembered read (``read``) are
    (see ``anaconda_auth._config_cache`` and ``token_storage``)."""

    entry: Any
    manager: AnacondaAuthPluginManager
    config: AnacondaAuthSite
    read: object
    domain: str
    info: TokenInfo


_remembered: dict[tuple[type[TokenInfo], str | None], _RememberedLoad] = {}
#: ``(_config_cache, AnacondaAuthConfig, token_storage)`` for :func:`peek_remembered`, bound by
#: the first :func:`_remember_load` (a per-call import costs about a microsecond).
_peek_deps: Any = None


def _remember_load(
    cls: type[TokenInfo],
    requested: str | None,
    domain: str,
    config: AnacondaAuthSite,
    entry: Any,
    manager: AnacondaAuthPluginManager,
    found: tuple[str, Any],
    info: TokenInfo,
) -> None:
    global _peek_deps
    from anaconda_auth import token_storage

    if _peek_deps is None:
        from anaconda_auth import _config_cache
        from anaconda_auth.config import AnacondaAuthConfig

        _peek_deps = (_config_cache, AnacondaAuthConfig, token_storage)
    remembered = token_storage.remembered_read(KEYRING_NAME, domain, config, manager)
    if remembered is None or remembered[1] != found:
        return
    if len(_remembered) >= _DECODED_MAX:
        _remembered.clear()
    _remembered[(cls, requested)] = _RememberedLoad(
        entry, manager, config, remembered[0], domain, _copy_token(info)
    )


def _remembered_load(cls: type[TokenInfo], requested: str | None) -> TokenInfo | None:
    """A copy of the remembered ``cls.load(requested)``, if nothing it depends on changed: the
    hot path of a client's per-request lookup (a few ``stat`` calls, no resolution)."""
    info = peek_remembered(cls, requested)
    return _copy_token(info) if info is not None else None


def peek_remembered(cls: type[TokenInfo], requested: str | None) -> TokenInfo | None:
    """The remembered ``cls.load(requested)`` itself, not a copy: for callers that only read
    it (``BaseClient`` reads ``api_key`` and ``expired`` for each request). ``None`` if there
    is none or anything it depends on changed; then call ``load``."""
    hit = _remembered.get((cls, requested))
    if hit is None:
        return None
    config_cache, config_cls, token_storage = _peek_deps  # bound: there is a hit
    if not config_cache.still_current(config_cls, hit.entry):
        return None
    if not token_storage.still_remembered(
        hit.read, KEYRING_NAME, hit.domain, hit.config, hit.manager
    ):
        return None
    return hit.info


def _copy_token(info: TokenInfo) -> TokenInfo:
    copy = info.model_copy()  # (private attributes are copied too)
    copy.__dict__["repo_tokens"] = [t.model_copy() for t in info.repo_tokens]
    return copy
