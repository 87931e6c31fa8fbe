"""pytest fixtures for testing code that uses anaconda-auth, against a local identity provider.

Registered through the ``pytest11`` entry point, so they are available in every project that
installs anaconda-auth (with the ``testing`` extra for the provider: authlib, flask). Importing
this module is cheap and never fails: the provider is imported when a fixture first needs it.

- ``anaconda_idp``: the running provider (one per session; settings, faults, recorded
  requests and codes are reset after each test). ``.domain``, ``.url``, ``.ca_path``,
  ``.faults``, ``.settings``, ``.requests``, ``.approve_device()``, ``.mint_api_key()``, ...
- ``anaconda_idp_session``: the same provider, without the per-test reset.
- ``anaconda_auth_home``: an isolated HOME (config, keyring file) and an environment that
  points anaconda-auth at the provider; every other ``ANACONDA_*`` variable is removed.
- ``anaconda_logged_in``: a user with a valid API key stored through ``TokenInfo.save()``
  in that home; the key is minted through the provider's real login and API-key endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from anaconda_auth.plugins.testing.home import KEPT_VARIABLES as KEPT_VARIABLES
from anaconda_auth.plugins.testing.home import isolate_home

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.idp import IdentityProvider

    from anaconda_auth.token import TokenInfo

#: Variables kept when ``anaconda_auth_home`` clears ``ANACONDA_*``.


@pytest.fixture(scope="session")
def anaconda_idp_session() -> Iterator[IdentityProvider]:
    """The local identity provider, started once per test session."""
    pytest.importorskip("authlib", reason="the testing extra (anaconda-auth[testing]) is needed")
    pytest.importorskip("flask", reason="the testing extra (anaconda-auth[testing]) is needed")
    from anaconda_auth.plugins.testing.idp import IdentityProvider

    # Polls 20 times a second: a device login in a test costs tens of milliseconds, not seconds.
    idp = IdentityProvider(device_interval=0.05, slow_down_increment=1)
    idp.start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
def anaconda_idp(anaconda_idp_session: IdentityProvider) -> Iterator[IdentityProvider]:
    """The running provider; whatever a test changes on it is reset afterwards."""
    anaconda_idp_session.reset()
    yield anaconda_idp_session
    anaconda_idp_session.reset()


@pytest.fixture
def anaconda_auth_home(
    anaconda_idp: IdentityProvider,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """An isolated home whose anaconda-auth configuration points at ``anaconda_idp``."""
    home = isolate_home(monkeypatch, tmp_path_factory.mktemp("anaconda-home"))
    monkeypatch.setenv("ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE", "anaconda-keyring")
    for name, value in anaconda_idp.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(home)
    _reset_plugin_manager()
    yield home
    _reset_plugin_manager()


def _reset_plugin_manager() -> None:
    from anaconda_auth.manager import reset_plugin_manager

    reset_plugin_manager()


@dataclass
class LoggedInUser:
    """What ``anaconda_logged_in`` gives: the user and the stored token."""

    email: str
    api_key: str
    domain: str
    token_info: TokenInfo

    def __repr__(self) -> str:
        return f"LoggedInUser(email={self.email!r}, domain={self.domain!r})"


@pytest.fixture
def anaconda_logged_in(anaconda_idp: IdentityProvider, anaconda_auth_home: Path) -> Any:
    """The first test user, logged in: an API key minted by the provider, saved in storage."""
    from anaconda_auth.token import TokenInfo

    email = anaconda_idp.settings.users[0].email
    api_key = anaconda_idp.mint_api_key(email)
    anaconda_idp.clear_requests()
    info = TokenInfo(domain=anaconda_idp.domain, api_key=api_key, username=email)
    info.save()
    return LoggedInUser(email=email, api_key=api_key, domain=anaconda_idp.domain, token_info=info)
