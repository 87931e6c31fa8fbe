"""anaconda-auth 0.15's ``keyring`` backends, for code that selects them explicitly.

``AnacondaKeyring`` keeps passwords in ``keyring_path`` (``~/.anaconda/keyring``) through the
``anaconda-keyring`` storage backend: the same file and format as ``TokenInfo.save()``, which
0.15 can parse (it sees the entries written here as absent). ``ConfigKeyring`` answers from
the configuration (``api_key``, ``keyring``), read-only.

0.15 defined them so that ``keyring`` picked them as the process-wide default (priority 11,
and 100 for ``ConfigKeyring`` with a configured key): every program in the process, pip and
twine included, then stored its passwords in that file. Here:

* ``anaconda_auth.token`` defines them on first access of the names, not on import, and the
  package registers no ``keyring.backends`` entry point;
* once defined, ``keyring`` lists them (it registers every subclass), but with priority -1,
  like keyring's own ``null`` backend: below the ``fail`` backend that ``keyring`` always has,
  so they never win keyring's automatic choice and the chainer leaves them out. They are used
  when a caller makes one (``AnacondaKeyring()``), passes it to ``keyring.set_keyring``, or
  names it in ``PYTHON_KEYRING_BACKEND`` / keyringrc
  (``anaconda_auth.storage.keyring_015.AnacondaKeyring``).

See docs/dev/decisions/0028-keyring-file-shared-with-0-15.md.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from keyring.compat.properties import classproperty
from keyring.errors import PasswordDeleteError, PasswordSetError

from anaconda_auth.config.model import AnacondaAuthConfig
from anaconda_auth.exceptions import ConfigError
from anaconda_auth.plugin_types import KEYRING_NAME, TOKEN_INFO_VERSION
from anaconda_auth.storage_backends.anaconda_keyring import AnacondaKeyringBackend

__all__ = ["NEVER_CHOSEN", "AnacondaKeyring", "ConfigKeyring"]

#: The priority of both classes: below keyring's ``fail`` backend (0), so keyring's automatic
#: choice never takes them.
NEVER_CHOSEN = -1.0


class AnacondaKeyring(KeyringBackend):
    """Passwords in ``keyring_path`` (``~/.anaconda/keyring``, encrypted), as 0.15's class of the
    same name kept them; only when selected explicitly."""

    name = "token AnacondaKeyring"  # 0.15's name, not keyring's rule

    @classproperty
    def keyring_path(cls) -> Path:
        """The file: ``keyring_path`` of the configuration, read at each access."""
        return AnacondaAuthConfig().keyring_path

    @classproperty
    def priority(cls) -> float:
        return NEVER_CHOSEN

    @classproperty
    def viable(cls) -> bool:
        """Whether the file can be used (probing creates nothing, unlike 0.15's)."""
        try:
            return AnacondaKeyringBackend(cls.keyring_path).is_available()[0]
        except ConfigError:  # keyring asks every backend: never raise (e.g. no home directory)
            return False

    def _backend(self) -> AnacondaKeyringBackend:
        return AnacondaKeyringBackend(self.keyring_path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._backend().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._backend().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        backend = self._backend()
        if backend.get_password(service, username) is None:
            raise PasswordDeleteError(f"No password stored for {username!r} in {service!r}.")
        backend.delete_password(service, username)


class ConfigKeyring(AnacondaKeyring):
    """Read-only passwords from the configuration, as 0.15's class of the same name: the
    configured ``api_key`` as the login of the configured domain, else the ``keyring`` table
    (service -> user name -> password)."""

    name = "token ConfigKeyring"

    @classproperty
    def viable(cls) -> bool:
        return True

    def _entries(self) -> dict[str, dict[str, str]]:
        config = AnacondaAuthConfig()
        if config.api_key:
            # 0.15's form: TokenInfo(domain=..., api_key=...).model_dump_json(), base64.
            payload: dict[str, Any] = {
                "domain": config.domain,
                "api_key": config.api_key,
                "username": None,
                "repo_tokens": [],
                "version": TOKEN_INFO_VERSION,
            }
            encoded = base64.b64encode(json.dumps(payload).encode()).decode("ascii")
            return {KEYRING_NAME: {config.domain: encoded}}
        table: dict[str, dict[str, str]] | None = getattr(config, "keyring", None)
        return table or {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("This keyring cannot set passwords")

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordSetError("This keyring cannot delete passwords")
