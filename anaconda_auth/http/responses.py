"""Responses of Anaconda services: ``raise_for_status`` that knows about ``auth_required``."""

from __future__ import annotations

from typing import Any

import requests

from anaconda_auth.exceptions import (
    AnacondaAuthError,
    AuthenticationMissingError,
    InvalidAuthentication,
)


class UnexpectedResponseError(AnacondaAuthError, ValueError):
    """A server answered with something the client cannot use (not JSON, not an object, too
    large); the message names the URL. A ``ValueError``, as ``response.json()``'s errors are."""


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except (ValueError, RuntimeError):
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    return code if isinstance(code, str) else None


#: Set by the client on a request it sent without a key because the stored key has expired:
#: ``(domain, expires_at)``.
EXPIRED_KEY_ATTRIBUTE = "_anaconda_auth_expired_key"


class AnacondaResponse(requests.Response):
    """The responses a :class:`BaseClient` returns.

    ``raise_for_status()`` turns a 401/403 whose JSON body says
    ``{"error": {"code": "auth_required"}}`` into :class:`AuthenticationMissingError` (the
    request carried no API key) or :class:`InvalidAuthentication` (it carried one); both
    are ``requests.HTTPError`` with ``.response`` and ``.request`` set. Everything else
    behaves exactly like ``requests.Response``.
    """

    def raise_for_status(self) -> None:
        if self.status_code in (401, 403) and _error_code(self) == "auth_required":
            request = self.request
            sent_key = request is not None and "Authorization" in request.headers
            kind = f"{self.status_code} Client Error"
            if sent_key:
                raise InvalidAuthentication(
                    f"{kind}: your API key or login token is invalid or has expired; log in "
                    f"again with `anaconda login --force`, for url: {self.url}",
                    response=self,
                    request=request,
                )
            expired = getattr(request, EXPIRED_KEY_ATTRIBUTE, None)
            if expired is not None:
                domain, expires_at = expired
                when = f" on {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at is not None else ""
                error = AuthenticationMissingError(
                    f"{kind}: your API key for {domain} expired{when}; log in again with "
                    f"`anaconda login` (the expired key was not sent), for url: {self.url}",
                    response=self,
                    request=request,
                )
                error.domain, error.expires_at = domain, expires_at  # type: ignore[attr-defined]
                raise error
            raise AuthenticationMissingError(
                f"{kind}: you must log in (`anaconda login`) or give the client an api_key "
                f"before using this endpoint, for url: {self.url}",
                response=self,
                request=request,
            )
        super().raise_for_status()


def login_required(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A ``requests`` response hook (the 0.15 API): for a 401/403 whose JSON body says
    ``{"error": {"code": "auth_required"}}``, replace ``response.reason`` with what to do, so
    ``raise_for_status()`` on a plain ``requests`` response explains it.

    :class:`BaseClient` does not need it (its responses raise
    :class:`AuthenticationMissingError` / :class:`InvalidAuthentication`); it is kept for code
    that adds it to its own sessions, ``session.hooks["response"].append(login_required)``.
    """
    if response.status_code in (401, 403) and _error_code(response) == "auth_required":
        request = response.request
        if request is not None and "Authorization" in request.headers:
            response.reason = "Your API key or login token is invalid."
        else:
            response.reason = (
                "You must log in before using this API endpoint or provide an api_key to "
                "your client."
            )
    return response
