"""Logging in and out: the public ``login`` / ``logout`` and what the CLI builds on.

``login`` picks a flow (browser with PKCE, or device code), turns the access token into an API
key and stores it; the flows live in :mod:`anaconda_auth.flows`. The login machinery (and
``requests``) is imported when a login runs, not with this module: ``anaconda auth api-key``
and anaconda-client import it without logging in. Nothing is stored unless every step succeeded.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from anaconda_auth.config.model import AnacondaAuthConfig, AnacondaAuthSite
from anaconda_auth.config.sites import AnacondaAuthSitesConfig
from anaconda_auth.exceptions import AuthenticationError, TokenNotFoundError, UnknownSiteName
from anaconda_auth.flows.ui import LoginUI, PlainUI
from anaconda_auth.storage.access import preferred_backend
from anaconda_auth.token import MIGRATIONS, TokenInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from anaconda_auth.flows.discovery import OpenIDConfiguration
    from anaconda_auth.flows.tokens import TokenSet
    from anaconda_auth.http.session import LoginSession

__all__ = [
    "LoginUI",
    "PlainUI",
    "current_token",
    "get_api_key",
    "is_logged_in",
    "load_site_config",
    "login",
    "logout",
    "make_auth_code_request_url",
    "refresh_access_token",
    "request_access_token",
]

log = logging.getLogger(__name__)


def login(
    site: str | AnacondaAuthSite | None = None,
    ssl_verify: bool | str | None = None,
    force: bool = False,
    *,
    device: bool | None = None,
    ui: LoginUI | None = None,
    basic: bool = False,
    config: AnacondaAuthSite | None = None,
) -> None:
    """Log in interactively and store a new API key, unless a valid one exists and not ``force``.

    ``device=True`` forces the device-code flow, ``False`` the browser flow, ``None`` picks
    (``use_device_flow`` in config, or the device flow when no browser can be opened).

    On any failure an :class:`~anaconda_auth.exceptions.AuthenticationError` (or a storage /
    config error) is raised and nothing is stored; an existing key is left as it was. Ctrl-C
    raises ``KeyboardInterrupt`` after the loopback server is closed, with nothing stored.

    ``config=`` (deprecated in 0.15: use ``site=``) and ``basic=False`` are accepted for code
    written for anaconda-auth 0.15; the username/password login (``basic=True``) is gone.

    The steps are 0.15's module-level functions, looked up when the login runs:
    :func:`_do_login` runs :func:`_do_auth_flow` or :func:`_do_device_flow` (each returns the
    access token) and :func:`get_api_key`, so code (and 0.15's test suite) that replaces one of
    them with ``unittest.mock.patch("anaconda_auth.actions._do_login")`` replaces that step.
    """
    if basic:
        raise AuthenticationError(
            "The username/password login (basic=True) is no longer supported; log in with the "
            "browser or the device code (login() without basic=True)."
        )
    site = _site_or_config(site, config)
    config = load_site_config(site, ssl_verify=ssl_verify)
    if not force and is_logged_in(config):
        log.debug("already logged in to %s; not logging in again", config.domain)
        return
    run = _LoginRun(config, ui or PlainUI(), device=device)
    with run.current():
        try:
            _do_login(config=config, basic=basic)
        except KeyboardInterrupt:
            pass
        else:
            return
    # Ctrl-C: raised outside the except block so no library frames are chained to it.
    log.debug("login cancelled; nothing was stored")
    raise KeyboardInterrupt


class _LoginRun:
    """One login in progress: its site, how it talks to the user, and what its steps found.

    :func:`login` makes one current (a context variable) for the duration of the login, so
    that 0.15's steps, called with 0.15's arguments (``_do_device_flow(config=...)``), share
    its UI, HTTP session and provider, and the key-storing step knows the tokens (for the
    user's email). A step called on its own makes its own.
    """

    def __init__(
        self,
        config: AnacondaAuthSite,
        ui: LoginUI,
        *,
        device: bool | None = None,
        store: bool = True,
    ) -> None:
        self.config = config
        self.ui = ui
        self.device = device
        #: Whether this run stores an API key (a login), or only gets an access token.
        self.store = store
        self.session: LoginSession | None = None
        self.provider: OpenIDConfiguration | None = None
        self.tokens: TokenSet | None = None
        #: The stored token, once the key was stored (the browser flow stores it before it
        #: sends the browser to the success page).
        self.stored: TokenInfo | None = None

    def connect(self) -> tuple[LoginSession, OpenIDConfiguration]:
        from anaconda_auth.flows import discovery
        from anaconda_auth.http.session import make_session

        if self.session is None:
            self.session = make_session(self.config)
        if self.provider is None:
            self.provider = discovery.discover(self.config, self.session)
        return self.session, self.provider

    @contextmanager
    def current(self) -> Iterator[_LoginRun]:
        reset = _current_run.set(self)
        try:
            yield self
        finally:
            _current_run.reset(reset)
            if self.session is not None:
                self.session.close()
                self.session = None


_current_run: ContextVar[_LoginRun | None] = ContextVar("anaconda_auth_login", default=None)


@contextmanager
def _login_run(
    config: str | AnacondaAuthSite | None, *, store: bool = False
) -> Iterator[_LoginRun]:
    """The login in progress for ``config`` (the same site object), else a new one."""
    run = _current_run.get()
    if run is not None and (config is None or config is run.config):
        yield run
        return
    with _LoginRun(load_site_config(config), PlainUI(), store=store).current() as run:
        yield run


def _flow_name(device: bool) -> str:
    return "device" if device else "browser"


def _use_device_flow(config: AnacondaAuthSite, device: bool | None) -> bool:
    if device is not None:
        return device
    if config.use_device_flow:
        return True
    from anaconda_auth.flows.browser import browser_available

    ok, reason = browser_available()
    if not ok:
        log.debug("using the device flow: %s", reason)
    return not ok


def _device_browser() -> Callable[[str], object] | None:
    """How the device flow opens its page: a browser when one is usable here, as 0.15 did."""
    from anaconda_auth.flows.browser import browser_available, open_browser

    ok, reason = browser_available()
    if not ok:
        log.debug("device flow: not opening a browser: %s", reason)
        return None
    return open_browser


def _existing_token(config: AnacondaAuthSite) -> TokenInfo:

    return TokenInfo.load(config.domain, create=True, config=config)


def _entry_for_account(config: AnacondaAuthSite, username: str | None) -> TokenInfo:
    """The entry a login as ``username`` updates (token-update lock held).

    When another account is active for the domain, it is kept as an inactive account and the
    entry starts from what was stored for ``username`` before (its repository tokens), if
    anything (several accounts per domain: docs/dev/decisions/0049).
    """
    from anaconda_auth.storage import accounts

    previous = accounts.make_active(config.domain, username, config)
    if previous is not None:
        return TokenInfo._from_stored(previous, config.preferred_token_storage)
    return _existing_token(config)


def _store_api_key(run: _LoginRun, access_token: str) -> TokenInfo:
    """Mint an API key with the access token and save it, keeping the stored repo tokens."""
    from anaconda_auth.flows.tokens import user_email

    config = run.config
    api_key = get_api_key(access_token, config=config)  # (looked up now: a patch replaces it)
    username = None
    if run.tokens is not None and run.session is not None and run.provider is not None:
        username = user_email(run.tokens, run.provider, run.session)
    from anaconda_auth.storage.update_lock import token_update_lock

    with token_update_lock():  # `anaconda token install` may be adding a repo token right now
        info = _entry_for_account(config, username)
        info.domain = config.domain
        info.api_key = api_key
        info.username = username
        info.save(config=config)
    log.debug("logged in to %s as %s; API key stored in %s", config.domain, username, info.source)
    run.stored = info
    return info


def logout(
    site: str | AnacondaAuthSite | None = None, *, config: AnacondaAuthSite | None = None
) -> None:
    """Remove the stored API key for the site; no error if there is none.

    For a site that pins an ``account``, that account's entry (active or not) is removed, and
    another stored account, if any, becomes active when it was the active one.

    ``config=`` is the deprecated spelling of ``site=`` (anaconda-auth 0.15).
    """

    config = load_site_config(_site_or_config(site, config))
    if config.account is not None:  # a site pinning an account removes that account only
        from contextlib import suppress

        from anaconda_auth.storage import accounts
        from anaconda_auth.storage.update_lock import token_update_lock

        with token_update_lock(), suppress(accounts.AccountError):  # not stored: a no-op
            accounts.remove(config.domain, config.account, config)
        return
    for domain in (config.domain, *MIGRATIONS.get(config.domain, [])):
        try:
            TokenInfo(domain=domain).delete(config=config)
            log.debug("removed the stored token for %s", domain)
        except TokenNotFoundError:
            pass


def _site_or_config(
    site: str | AnacondaAuthSite | None, config: AnacondaAuthSite | None
) -> str | AnacondaAuthSite | None:
    """``site``, or the deprecated ``config=`` keyword of anaconda-auth 0.15."""
    if config is None:
        return site
    if site is not None:
        raise ValueError(
            "You cannot set both site= and config= arguments (config= is deprecated: give "
            "only site=)."
        )
    import warnings

    warnings.warn(
        "The config= keyword argument is deprecated, please use site=str | AnacondaAuthSite "
        "(a site name, a domain or an AnacondaAuthSite).",
        DeprecationWarning,
        stacklevel=3,
    )
    return config


def is_logged_in(site: str | AnacondaAuthSite | None = None) -> bool:
    """Whether a stored, unexpired API key exists for the site."""

    try:
        info = current_token(site)
    except TokenNotFoundError:
        return False
    return info.api_key is not None and not info.expired


def load_site_config(
    site: str | AnacondaAuthSite | None = None, **overrides: object
) -> AnacondaAuthSite:
    """The config for a site name, a domain, a site object, or the default site.

    ``overrides`` (e.g. ``ssl_verify=False``) replace config values; ``None`` means "no
    override". A site object is copied, never changed.
    """

    values = {key: value for key, value in overrides.items() if value is not None}
    if isinstance(site, AnacondaAuthSite):
        if not values:
            return site
        copy = site.model_copy(deep=True)
        for key, value in values.items():
            setattr(copy, key, value)  # validated: the model has validate_assignment
        return copy
    if site is None:
        return AnacondaAuthConfig(**values)
    name = _site_name(site)
    if name is not None:
        return AnacondaAuthConfig(site=name, **values)
    return AnacondaAuthConfig(domain=site, **values)


def _site_name(site: str) -> str | None:
    """The configured site called ``site`` (or whose domain it is); ``None`` for another domain.

    :class:`UnknownSiteName` when ``site`` is neither a configured name nor a domain name.
    """

    try:
        return AnacondaAuthSitesConfig().sites.find(site)
    except UnknownSiteName:
        host = site.split("://", 1)[-1].split("/", 1)[0]
        if "." in host or ":" in host or host == "localhost":
            return None  # a domain with no [sites] table: its own settings, no site's
        raise


def current_token(site: str | AnacondaAuthSite | None = None) -> TokenInfo:
    """The stored token for the site (with ``.source``), or ``TokenNotFoundError``."""

    config = load_site_config(site)
    return TokenInfo.load(config.domain, config=config)


# --------------------------------------------------------------------------------------------
# The lower-level steps of anaconda-auth 0.15, for code that runs its own login
# --------------------------------------------------------------------------------------------


def make_auth_code_request_url(
    code_challenge: str, state: str, config: str | AnacondaAuthSite | None = None
) -> str:
    """The authorization URL of the browser login (PKCE S256) for the site's provider."""
    from anaconda_auth.flows import browser, discovery

    site = load_site_config(config)
    provider = discovery.discover(site)
    return browser.authorize_url(
        provider.authorization_endpoint,
        client_id=site.client_id,
        redirect_uri=site.redirect_uri,
        state=state,
        challenge=code_challenge,
    )


def _grant(config: str | AnacondaAuthSite | None, data: dict[str, str], what: str) -> str:
    from anaconda_auth.flows import discovery, tokens
    from anaconda_auth.http.session import make_session

    site = load_site_config(config)
    session = make_session(site)
    try:
        provider = discovery.discover(site, session)
        found = tokens.token_request(
            session, provider, {**data, "client_id": site.client_id}, what=what
        )
    finally:
        session.close()
    return found.access_token


def request_access_token(
    auth_code: str, code_verifier: str, config: str | AnacondaAuthSite | None = None
) -> str:
    """Exchange an authorization code (and its PKCE verifier) for an access token.

    An error answer from the provider raises
    :class:`~anaconda_auth.exceptions.AuthenticationError`.
    """
    site = load_site_config(config)
    return _grant(
        site,
        {
            "grant_type": "authorization_code",
            "code": auth_code,
            "redirect_uri": site.redirect_uri,
            "code_verifier": code_verifier,
        },
        "The authorization code exchange",
    )


def refresh_access_token(refresh_token: str, config: str | AnacondaAuthSite | None = None) -> str:
    """A new access token from a refresh token.

    0.15 raised ``requests.HTTPError`` when the provider refused; this raises
    :class:`~anaconda_auth.exceptions.AuthenticationError` (an ``OAuthError`` naming the
    provider's ``error``), like every other login step.
    """
    return _grant(
        config,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        "Refreshing the access token",
    )


def get_api_key(
    access_token: str,
    config: str | AnacondaAuthSite | bool | None = None,
    *,
    ssl_verify: bool | str | None = None,
) -> str:
    """Create a new API key for the user of ``access_token`` and return it (nothing is stored).

    Takes 0.15's ``get_api_key(access_token, config=None)`` and the older
    ``get_api_key(access_token, ssl_verify)`` order: a bool in second place is ``ssl_verify``
    (``True`` meaning "as configured"). Failure raises
    :class:`~anaconda_auth.exceptions.AuthenticationError`.
    """
    from anaconda_auth.flows.api_keys import mint_api_key
    from anaconda_auth.http.session import make_session

    if isinstance(config, bool):
        if ssl_verify is None and not config:
            ssl_verify = False
        config = None
    run = _current_run.get()
    if run is not None and run.session is not None and config is run.config and ssl_verify is None:
        # Within a login: the login's own connection (and TLS settings) mint the key.
        return mint_api_key(run.config, access_token, run.session)
    site = load_site_config(config, ssl_verify=ssl_verify)
    session = make_session(site)
    try:
        return mint_api_key(site, access_token, session)
    finally:
        session.close()


# -- 0.15's private steps, which other packages import and patch -------------------------------
# anaconda-client 1.16 imports ``_do_auth_flow`` at start-up and calls it with ``config=<site>``
# to get the access token of a browser login. :func:`login` runs through ``_do_login``, which
# runs one of the two flows and then ``get_api_key``, all looked up when called, so patching
# any of them (as 0.15's test suite does) replaces that step of a real login.


def _do_login(config: AnacondaAuthSite, basic: bool = False) -> None:
    """Log in to ``config`` and store a new API key (0.15's private step of :func:`login`).

    Runs whether or not a valid key is stored (``login`` decides that). Checks that the token
    can be stored before the user spends time in a browser, picks the flow (as ``login``),
    and stores the key minted from the flow's access token, keeping the stored repo tokens.
    """
    if basic:
        _login_with_username(config=config)  # raises: the password login is gone
    with _login_run(config, store=True) as run:
        config = run.config
        # Fail before the user spends time in a browser when the token cannot be stored.
        preferred_backend(config)
        _existing_token(config)
        use_device = _use_device_flow(config, run.device)
        log.debug("logging in to %s with the %s flow", config.domain, _flow_name(use_device))
        if use_device:
            access_token = _do_device_flow(config=config)
        else:
            access_token = _do_auth_flow(config=config)
        if run.stored is None:  # the browser flow stores before its success page; else now
            _store_api_key(run, access_token)


def _do_auth_flow(config: str | AnacondaAuthSite | None = None) -> str:
    """Run the browser login (PKCE, loopback redirect) and return its access token.

    Called on its own, nothing is stored: the caller decides what to do with the token
    (anaconda-client turns it into its own token). Within :func:`login` the API key is minted
    and stored before the browser is sent to the success page. Failures raise
    :class:`~anaconda_auth.exceptions.AuthenticationError`.
    """
    from anaconda_auth.flows import browser

    with _login_run(config) as run:
        session, provider = run.connect()

        def complete(tokens: TokenSet) -> str:
            run.tokens = tokens
            if run.store:
                _store_api_key(run, tokens.access_token)
            return tokens.access_token

        return browser.run(run.config, provider, session, run.ui, complete)


def _do_device_flow(config: str | AnacondaAuthSite | None = None) -> str:
    """Run the device login and return its access token (nothing is stored here).

    The verification page is opened in a browser when one is usable here, as in 0.15.
    """
    from anaconda_auth.flows import device

    with _login_run(config) as run:
        session, provider = run.connect()
        tokens = device.run(run.config, provider, session, run.ui, open_url=_device_browser())
        run.tokens = tokens
        return tokens.access_token


def _send_auth_code_request(
    code_challenge: str, state: str, config: str | AnacondaAuthSite | None = None
) -> None:
    """Open the authorization URL of the browser login in a browser."""
    from anaconda_auth.flows.browser import open_browser

    open_browser(make_auth_code_request_url(code_challenge, state, config))


def _login_with_username(config: str | AnacondaAuthSite | None = None) -> str:
    """0.15's username/password login: removed (see ``login(basic=True)``)."""
    raise AuthenticationError(
        "The username/password login is no longer supported; log in with the browser or the "
        "device code."
    )


def _api_key_is_valid(config: AnacondaAuthSite) -> bool:
    """Whether a stored, unexpired API key exists for ``config``."""
    return is_logged_in(config)
