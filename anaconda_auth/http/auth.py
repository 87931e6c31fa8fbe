"""Authentication objects for ``requests``: none at all, or a bearer token."""

from __future__ import annotations

import requests
from requests.auth import AuthBase


class NoAuth(AuthBase):
    """Sends no credentials; set as a session's default so ``~/.netrc`` is never read."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class BearerAuth(AuthBase):
    """``Authorization: Bearer <api_key>`` on every request it is attached to.

    Subclasses supply a key per request by overriding :meth:`current_key` (the client looks
    the stored key up); with no key, no header is added. The key never shows in ``repr``.
    """

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key

    def current_key(self) -> str | None:
        return self.api_key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        key = self.current_key()
        if key:
            r.headers["Authorization"] = f"Bearer {key}"
        return r

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
