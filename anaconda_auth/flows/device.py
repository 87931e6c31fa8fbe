"""The device login (OAuth 2 Device Authorization Grant, RFC 8628), for machines without a browser.

POST ``client_id`` and the scope to the device authorization endpoint, show the user the
verification URL and code through the ``LoginUI`` and, when the caller passes ``open_url`` (the
login does when a browser is usable here), open ``verification_uri_complete`` with it, as
anaconda-auth 0.15 did (the URL and code are shown either way), then poll the token endpoint at the
interval the provider asks for (each poll on a fresh connection: the kept-alive one may be
closed by the server just then), ``authorization_pending`` keeps polling, ``slow_down`` adds
5 s to the interval, ``expired_token`` (or the local ``expires_in`` deadline) raises
:class:`DeviceFlowTimeout`, ``access_denied`` raises :class:`DeviceFlowDenied`.

Ctrl-C raises a plain ``KeyboardInterrupt`` (no chained library traceback); nothing has been
stored at that point.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anaconda_auth.exceptions import DeviceFlowDenied, DeviceFlowError, DeviceFlowTimeout
from anaconda_auth.flows.tokens import SCOPE, OAuthError, TokenSet, token_request
from anaconda_auth.http import session as _http

if TYPE_CHECKING:
    from anaconda_auth.config import AnacondaAuthSite
    from anaconda_auth.flows.discovery import OpenIDConfiguration
    from anaconda_auth.flows.ui import LoginUI

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and value >= 0 else default


def _open_verification_page(url: str, open_url: Callable[[str], object] | None) -> None:
    """Open the page where the user approves the code, if asked to; never raises."""
    if open_url is None:
        return
    try:
        open_url(url)
    except Exception as exc:  # the URL and the code are shown; a browser is only a convenience
        log.debug("device flow: could not open a browser: %s", exc)


def run(
    config: AnacondaAuthSite,
    provider: OpenIDConfiguration,
    session: _http.LoginSession,
    ui: LoginUI,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    open_url: Callable[[str], object] | None = None,
) -> TokenSet:
    """Run the device flow; the tokens once the user approved.

    ``open_url`` opens the verification page (``verification_uri_complete``, else
    ``verification_uri``) after the URL and code are shown; it must not block (the login uses
    :func:`anaconda_auth.flows.browser.open_browser`, which opens from a background thread).
    Without it no browser is opened; if it raises, the flow goes on.
    """
    endpoint = provider.device_authorization_endpoint
    if not endpoint:
        raise DeviceFlowError(
            f"The identity provider ({provider.url}) does not offer the device flow (no "
            "device_authorization_endpoint); log in with the browser flow instead."
        )
    what = "Starting the device login"
    response = _http.send(
        session,
        "POST",
        endpoint,
        what=what,
        data={"client_id": config.client_id, "scope": SCOPE},
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        detail = _http.error_detail(response)
        raise DeviceFlowError(
            f"{what} failed: {endpoint} returned HTTP {response.status_code}"
            + (f" ({detail})" if detail else "")
        )
    data = _http.json_object(response, what=what)
    device_code = data.get("device_code")
    user_code = data.get("user_code")
    verification_uri = data.get("verification_uri") or data.get("verification_url")
    if not (
        isinstance(device_code, str)
        and isinstance(user_code, str)
        and isinstance(verification_uri, str)
    ):
        raise DeviceFlowError(
            f"{what} failed: the reply of {endpoint} lacks device_code, user_code or "
            "verification_uri."
        )
    complete_uri = data.get("verification_uri_complete")
    interval = _number(data.get("interval"), DEFAULT_INTERVAL)
    expires_in = _number(data.get("expires_in"), 600.0)
    deadline = clock() + expires_in

    complete = complete_uri if isinstance(complete_uri, str) and complete_uri else None
    ui.show_device_code(verification_uri, user_code, complete)
    _open_verification_page(complete or verification_uri, open_url)
    log.debug("device flow: polling every %g s for up to %g s", interval, expires_in)
    try:
        with ui.waiting("Waiting for you to approve the login in your browser..."):
            while True:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise DeviceFlowTimeout(
                        f"The login code expired after {expires_in:g} s without being "
                        "approved; nothing was stored. Run the login again."
                    )
                sleep(min(interval, remaining))
                _http.drop_idle_connections(session)  # idle for a whole interval
                try:
                    return token_request(
                        session,
                        provider,
                        {
                            "grant_type": GRANT_TYPE,
                            "device_code": device_code,
                            "client_id": config.client_id,
                        },
                        what="Polling for the device login",
                    )
                except OAuthError as exc:
                    if exc.error == "authorization_pending":
                        continue
                    if exc.error == "slow_down":
                        interval += SLOW_DOWN_STEP
                        log.debug("device flow: slow_down, interval now %g s", interval)
                        continue
                    if exc.error == "expired_token":
                        raise DeviceFlowTimeout(
                            "The login code expired before it was approved; nothing was "
                            "stored. Run the login again."
                        ) from None
                    if exc.error == "access_denied":
                        raise DeviceFlowDenied(
                            "The login was denied in the browser; nothing was stored."
                        ) from None
                    raise DeviceFlowError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    # Only Ctrl-C gets here. Raised outside the except block, so no frames of requests or
    # urllib3 are chained to it.
    log.debug("device flow cancelled")
    raise KeyboardInterrupt
