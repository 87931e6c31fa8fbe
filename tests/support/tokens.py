"""JWT-shaped API keys for tests: readable claims, an unchecked signature."""

from __future__ import annotations

import base64
import json
import time


def _part(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def jwt(exp: float | None = None, **claims: object) -> str:
    """An unsigned JWT with an ``exp`` claim (``None``: one hour from now) and ``claims``."""
    payload = {"exp": int(time.time() + 3600 if exp is None else exp), **claims}
    return f"{_part({'alg': 'RS256', 'typ': 'JWT'})}.{_part(payload)}.c2lnbmF0dXJl"
