"""The device login under its anaconda-auth 0.15 module name.

The flow itself is :mod:`anaconda_auth.flows.device` (``run``); this module also keeps 0.15's
two-step API for code that drives the device flow itself:

>>> flow = DeviceCodeFlow(config=site)
>>> answer = flow.initiate_device_authorization()   # show answer.verification_uri, user_code
>>> tokens = flow.poll_for_token()                   # {"access_token": ..., ...}

Both steps go through our login session (TLS policy, proxies, client headers, timeouts; the
resolved ``verify`` is passed with each request, as 0.15 did) and the site's discovered
endpoints (``config.oidc``). ``poll_for_token`` keeps 0.15's behaviour: ``authorization_pending``
polls again, ``slow_down`` adds 5 s (0.15 capped the interval at 30 s; so does this),
``expired_token`` or ``expires_in`` running out raises :class:`DeviceFlowTimeout`,
``access_denied`` raises :class:`DeviceFlowDenied`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from anaconda_auth.exceptions import DeviceFlowDenied, DeviceFlowError, DeviceFlowTimeout
from anaconda_auth.flows.device import DEFAULT_INTERVAL, GRANT_TYPE, SLOW_DOWN_STEP, run
from anaconda_auth.flows.tokens import OAuthError

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.flows.discovery import OpenIDConfiguration
    from anaconda_auth.http.session import LoginSession

__all__ = [
    "DEFAULT_INTERVAL",
    "GRANT_TYPE",
    "SLOW_DOWN_STEP",
    "DeviceAuthorizationResponse",
    "DeviceCodeFlow",
    "run",
]

_MAX_INTERVAL = 30


class DeviceAuthorizationResponse(BaseModel):
    """The device authorization endpoint's answer (RFC 8628 §3.2); the device code is secret."""

    device_code: str = Field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str = ""
    expires_in: int = 60
    interval: int = 5


class DeviceCodeFlow:
    """0.15's OAuth 2 device code flow (RFC 8628): start it, show the code, poll for tokens."""

    authorize_response: DeviceAuthorizationResponse | None

    def __init__(self, config: AnacondaAuthSite):
        self.config = config
        self.authorize_response = None
        self._session: LoginSession | None = None
        self._provider: OpenIDConfiguration | None = None

    def _connect(self) -> tuple[LoginSession, OpenIDConfiguration]:
        from anaconda_auth.http.session import make_session

        if self._session is None:
            self._session = make_session(self.config)
        if self._provider is None:
            # The site's ``oidc`` (discovered once per process), as 0.15 read the endpoints.
            self._provider = self.config.oidc
        return self._session, self._provider

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def initiate_device_authorization(self) -> DeviceAuthorizationResponse:
        """Ask the provider for a device code and a user code."""
        from anaconda_auth.http import session as _http

        session, provider = self._connect()
        endpoint = provider.device_authorization_endpoint
        if not endpoint:
            raise DeviceFlowError("Server does not support device authorization")
        what = "Device authorization request"
        response = _http.send(
            session,
            "POST",
            endpoint,
            what=what,
            data={"client_id": self.config.client_id, "scope": "openid"},
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            detail = _http.error_detail(response)
            raise DeviceFlowError(
                f"{what} failed: HTTP {response.status_code}" + (f" ({detail})" if detail else "")
            )
        data = _http.json_object(response, what=what)
        if "verification_uri" not in data and "verification_url" in data:
            data["verification_uri"] = data["verification_url"]
        try:
            self.authorize_response = DeviceAuthorizationResponse.model_validate(data)
        except ValueError as exc:
            missing = ", ".join(str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])())
            raise DeviceFlowError(f"Missing required field in response: {missing}") from None
        return self.authorize_response

    def _request_token(self) -> dict[str, Any]:
        """One poll of the token endpoint: the token response, or an OAuth error as
        :class:`DeviceFlowError` (``authorization_pending``, ``slow_down``), timeout, denial."""
        from anaconda_auth.flows.tokens import token_request

        if not self.authorize_response:
            raise DeviceFlowError("Must call initiate_device_authorization first")
        session, provider = self._connect()
        try:
            tokens = token_request(
                session,
                provider,
                {
                    "grant_type": GRANT_TYPE,
                    "device_code": self.authorize_response.device_code,
                    "client_id": self.config.client_id,
                },
                what="Token request",
            )
        except OAuthError as exc:
            if exc.error in ("authorization_pending", "slow_down"):
                raise DeviceFlowError(exc.error) from None
            if exc.error == "expired_token":
                raise DeviceFlowTimeout("Device code expired") from None
            if exc.error == "access_denied":
                raise DeviceFlowDenied("User denied authorization") from None
            raise DeviceFlowError(
                f"Token request failed: {exc.error} - {exc.description or ''}"
            ) from None
        result: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": tokens.token_type,
        }
        for name in ("refresh_token", "id_token", "expires_in", "scope"):
            value = getattr(tokens, name)
            if value is not None:
                result[name] = value
        return result

    def poll_for_token(self) -> dict[str, Any]:
        """Poll until the user approved; the token response (``access_token``, ...)."""
        from anaconda_auth.http.session import drop_idle_connections

        if not self.authorize_response:
            raise DeviceFlowError("Must call initiate_device_authorization first")
        deadline = time.monotonic() + self.authorize_response.expires_in
        interval = float(self.authorize_response.interval)
        while time.monotonic() < deadline:
            try:
                return self._request_token()
            except (DeviceFlowTimeout, DeviceFlowDenied):
                raise
            except DeviceFlowError as exc:
                reason = str(exc)
                if reason == "slow_down":
                    interval = min(interval + SLOW_DOWN_STEP, _MAX_INTERVAL)
                elif reason != "authorization_pending":
                    raise
            time.sleep(interval)
            if self._session is not None:
                drop_idle_connections(self._session)
        raise DeviceFlowTimeout("Device authorization timed out")
