"""A local OpenID Connect identity provider for testing anaconda-auth and what builds on it.

It serves the wire contract of Anaconda's auth service over HTTPS on 127.0.0.1, with a
throwaway CA, on authlib and Flask, in a background thread of werkzeug's threaded server::

    with IdentityProvider(auto_approve=True) as idp:
        idp.domain      # "127.0.0.1:<port>"  -> ANACONDA_AUTH_DOMAIN
        idp.url         # "https://127.0.0.1:<port>"
        idp.ca_path     # CA bundle           -> ANACONDA_AUTH_SSL_VERIFY
        idp.env()       # both, as a dict of environment variables

The pieces, one concern each:

- :mod:`.app`: the Flask app, the HTTPS server, and the list of endpoints and view names;
- :mod:`.oauth_views` and :mod:`.oauth_server`: the OpenID Connect / OAuth endpoints and
  authlib's grants (authorization code + PKCE, refresh, device flow, revocation);
- :mod:`.api_views`: the Anaconda API (``/api/auth/api-keys``, ``/api/account``, ...);
- :mod:`.repo_views`, :mod:`.repo_state`: organizations and repo tokens; :mod:`.channel_views`
  and :mod:`.conda_package`: a conda channel (``idp.repo_url``) that needs a token or API key;
- :mod:`.models` and :mod:`.state`: users, clients, settings, and what the provider remembers;
- :mod:`.faults`: fault injection (``idp.faults``) and the request record (``idp.requests``);
- :mod:`.ca`: the throwaway CA; :mod:`.http_login`: logging in over HTTP as a client would;
- :mod:`.standalone`: the ``anaconda-auth-idp`` command (:func:`main`).

Users and clients: ``alice@example.com`` with password ``password`` (change with
``settings.users`` / :meth:`IdentityProvider.add_user`); the public client
``b4ad7f1d-c784-46b5-a9fe-106e50441f5a`` (auth method ``none``) and the confidential client
``anaconda-auth-test-confidential`` / ``test-client-secret`` (``client_secret_basic`` or
``client_secret_post``); add more with :meth:`IdentityProvider.add_client`. Redirect URIs:
registered ones exactly, plus any ``http`` loopback URI (any port, any path: RFC 8252 §7.3
plus a convenience; see :class:`.models.Client`).

Approval: see :mod:`.oauth_views`. Device codes are approved on the ``/device`` page, by
:meth:`IdentityProvider.approve_device` / :meth:`~IdentityProvider.deny_device`, on a visit
of ``verification_uri_complete`` when ``auto_approve``, or at issue when
``device_auto_approve``.
"""

from __future__ import annotations

import copy
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anaconda_auth.plugins.testing.faults import Faults, RecordedRequest
from anaconda_auth.plugins.testing.http_login import DEFAULT_API_KEY_SCOPES

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.models import Client, DeviceCredential, Settings, User
    from anaconda_auth.plugins.testing.repo_state import RepoState
    from requests import Session as HTTPSession
    from werkzeug.serving import BaseWSGIServer

__all__ = [
    "DEFAULT_API_KEY_SCOPES",
    "Faults",
    "IdentityProvider",
    "RecordedRequest",
    "main",
]

BROWSER_MODULE = "anaconda_auth.plugins.testing.browser"


def __getattr__(name: str) -> Any:
    # ``create_app`` lived here; importing it needs Flask, which this module does not.
    if name == "create_app":
        from anaconda_auth.plugins.testing.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class IdentityProvider:
    """The provider: build it, :meth:`start` it (or use it as a context manager).

    Keyword arguments override fields of :class:`.models.Settings`
    (``auto_approve``, ``device_auto_approve``, ``api_key_lifetime``, ``device_interval``,
    ...). ``state_dir`` holds the CA and server certificate (a temporary directory, removed
    by :meth:`stop`, when not given).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        settings: Settings | None = None,
        state_dir: Path | str | None = None,
        **overrides: Any,
    ) -> None:
        from anaconda_auth.plugins.testing.ca import create_tls_files
        from anaconda_auth.plugins.testing.models import Settings
        from anaconda_auth.plugins.testing.state import ProviderState

        settings = settings or Settings()
        known = {f.name for f in fields(Settings)}
        for name, value in overrides.items():
            if name not in known:
                raise TypeError(f"unknown setting {name!r}")
            setattr(settings, name, value)
        self._initial = copy.deepcopy(settings)
        self.state = ProviderState(settings)
        self.faults = Faults()
        self._record: deque[RecordedRequest] = deque(maxlen=5000)
        self._port = port
        self._own_dir = state_dir is None
        self._dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="anaconda-idp-"))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.tls = create_tls_files(self._dir)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> IdentityProvider:
        from anaconda_auth.plugins.testing.app import create_app, make_https_server

        if self._server is not None:
            return self
        self._stopping.clear()
        app = create_app(self.state, self.faults, self._record)
        self._server = make_https_server(app, self._port, self.tls, self._stopping)
        self._port = self._server.server_port
        self.state.issuer = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"anaconda-idp-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> IdentityProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the initial settings; no faults, requests, codes, tokens or devices."""
        for f in fields(self._initial):
            setattr(self.settings, f.name, copy.deepcopy(getattr(self._initial, f.name)))
        self.faults.clear()
        self._record.clear()
        self.state.clear()

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def domain(self) -> str:
        """What clients use as ``domain``: ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        return f"https://{self.domain}"

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_path

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def repo_url(self) -> str:
        """The conda repository of this provider (``CONDA_TOKEN_REPO_URL``), ending in ``/``."""
        return f"{self.url}/repo/"

    @property
    def repo(self) -> RepoState:
        """Organizations and repo tokens: ``idp.repo.add_organization("acme")``, ..."""
        return self.state.repo

    def env(self) -> dict[str, str]:
        """Environment variables that point anaconda-auth at this provider."""
        return {"ANACONDA_AUTH_DOMAIN": self.domain, "ANACONDA_AUTH_SSL_VERIFY": str(self.ca_path)}

    @property
    def browser_command(self) -> str:
        """A ``$BROWSER`` value that opens URLs by following redirects (see :mod:`.browser`)."""
        return self.browser_command_for()

    def browser_command_for(
        self, login: str | None = None, password: str | None = None, *, deny: bool = False
    ) -> str:
        """A ``$BROWSER`` value that also signs in through the login form as ``login`` (with
        ``password``, default: that user's), or presses Deny."""
        command = f'"{sys.executable}" -m {BROWSER_MODULE} --ca "{self.ca_path}"'
        if login:
            user = self.state.find_user(login)
            password = password or (user.password if user else None)
            command += f' --login "{login}"'
            if password:
                command += f' --password "{password}"'
        if deny:
            command += " --deny"
        return command + " %s"

    # -- recorded requests ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._record)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests handled by the view ``endpoint`` (e.g. "token")."""
        return [r for r in self._record if r.endpoint == endpoint]

    def clear_requests(self) -> None:
        self._record.clear()

    # -- users, clients, devices, API keys --------------------------------------------------

    def add_user(self, email: str, password: str = "password", **fields_: str) -> User:  # noqa: S107
        from anaconda_auth.plugins.testing.models import User

        existing = self.state.find_user(email)
        if existing is not None:
            return existing
        user = User(email=email, password=password, **fields_)
        self.settings.users.append(user)
        return user

    def add_client(self, client: Client) -> Client:
        """Register ``client``, replacing any client with the same id."""
        clients = self.settings.clients
        clients[:] = [c for c in clients if c.client_id != client.client_id]
        clients.append(client)
        return client

    def pending_user_codes(self) -> list[str]:
        """User codes of device authorizations still waiting for a decision."""
        with self.state.lock:
            return [
                c.user_code
                for c in self.state.devices.values()
                if c.decision is None and not c.is_expired()
            ]

    def _device(self, user_code: str | None) -> DeviceCredential:
        if user_code is None:
            pending = self.pending_user_codes()
            if not pending:
                raise LookupError("no pending device authorization")
            user_code = pending[-1]
        cred = self.state.device_by_user_code(user_code)
        if cred is None:
            raise LookupError("unknown user code")
        return cred

    def approve_device(self, user_code: str | None = None, email: str | None = None) -> None:
        """Approve a device code (default: the latest pending one) as ``email`` or user 1."""
        cred = self._device(user_code)
        user = self.state.find_user(email) if email else self.settings.users[0]
        if user is None:
            raise LookupError(f"unknown user {email}")
        with self.state.lock:
            cred.decision = (user, True)

    def deny_device(self, user_code: str | None = None) -> None:
        cred = self._device(user_code)
        with self.state.lock:
            cred.decision = (None, False)

    def expire_device(self, user_code: str | None = None) -> None:
        cred = self._device(user_code)
        with self.state.lock:
            cred.expires_at = time.time() - 1

    @property
    def minted_api_keys(self) -> list[dict[str, Any]]:
        """``{"id", "sub", "email", "scopes", "tags"}`` of every API key minted over HTTP."""
        with self.state.lock:
            return list(self.state.minted_api_keys)

    def revoke_api_key(self, api_key: str) -> None:
        """Make a key this provider minted invalid (the account endpoint then answers 401)."""
        from anaconda_auth.token import jwt_claims

        jti = jwt_claims(api_key).get("jti")
        if isinstance(jti, str):
            with self.state.lock:
                self.state.revoked_jtis.add(jti)

    # -- logging in over HTTP ---------------------------------------------------------------

    def http_session(self) -> HTTPSession:
        """A ``requests`` session that trusts this provider's CA and ignores the environment."""
        import requests

        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.ca_path)
        return s

    def get_tokens(
        self,
        email: str | None = None,
        *,
        scope: str = "openid email profile offline_access",
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """A token response for ``email``, through the real endpoints: the login form (with
        the user's password), the code redirect, and the PKCE code exchange."""
        from anaconda_auth.plugins.testing.http_login import login_for_tokens
        from anaconda_auth.plugins.testing.models import PUBLIC_CLIENT_ID

        user = self.add_user(email) if email else self.settings.users[0]
        with self.http_session() as s:
            return login_for_tokens(
                s,
                self.url,
                user.email,
                user.password,
                scope=scope,
                client_id=client_id or PUBLIC_CLIENT_ID,
            )

    def mint_api_key(
        self,
        email: str | None = None,
        lifetime: float | None = None,
        *,
        scopes: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> str:
        """An API key for ``email`` (added as a user if unknown; default: the first user),
        minted through the real login and ``POST /api/auth/api-keys``. ``lifetime`` in
        seconds (negative: already expired); default ``settings.api_key_lifetime``."""
        from anaconda_auth.plugins.testing.http_login import create_api_key

        access_token = self.get_tokens(email)["access_token"]
        with self.http_session() as s:
            return create_api_key(
                s, self.url, access_token, lifetime=lifetime, scopes=scopes, tags=tags
            )


def main(argv: list[str] | None = None) -> int:
    """``anaconda-auth-idp``: run the provider in the foreground until Ctrl-C."""
    from anaconda_auth.plugins.testing.standalone import run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
