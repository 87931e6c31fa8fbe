"""Reading the claims of a JWT (an API key, an ID token) without verifying its signature.

Only the server can verify a key; the client reads the ``exp`` claim to warn before sending an
expired key, and the ``email`` claim as a label.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any


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


def expiry(api_key: str) -> dt.datetime | None:
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


#: The same expiries as POSIX seconds: ``TokenInfo.expired`` is checked on every request of a
#: client, and comparing with ``time.time()`` skips building an aware datetime each time.
_expiry_seconds: dict[str, float | None] = {}


def expiry_epoch(api_key: str) -> float | None:
    """:func:`expiry` as POSIX seconds (remembered per key)."""
    try:
        return _expiry_seconds[api_key]
    except KeyError:
        pass
    expires = expiry(api_key)
    seconds = expires.timestamp() if expires is not None else None
    if len(_expiry_seconds) >= _EXPIRY_MAX:
        _expiry_seconds.clear()
    _expiry_seconds[api_key] = seconds
    return seconds
