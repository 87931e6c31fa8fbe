"""Helpers of 0.15's post-login setup for organizations with the *environments* feature.

Each helper answers "nothing" (``None``, ``False``) rather than raising: the setup after a
login must never turn a successful login into a failed one.
"""

from __future__ import annotations

import logging
from typing import Any

from anaconda_auth.client import BaseClient

__all__ = ["check_client_token_status", "fetch_org_features", "get_orgs_with_env_logger"]

logger = logging.getLogger(__name__)


def fetch_org_features(ssl_verify: bool | str | None = None) -> list[Any] | None:
    """``organization_features`` of the user's userinfo (``[]`` when there are none), or
    ``None`` when it could not be fetched."""
    try:
        kwargs: dict[str, Any] = {} if ssl_verify is None else {"ssl_verify": ssl_verify}
        response = BaseClient(**kwargs).get("/api/auth/oauth2/userinfo")
        response.raise_for_status()
        features = response.json().get("organization_features") or []
        return list(features)
    except Exception as exc:  # a warning at most: see the module docstring
        logger.debug("organization features not fetched: %s", type(exc).__name__)
        return None


def check_client_token_status(token: str) -> bool:
    """Whether the environment manager's client token is already registered (HTTP 200)."""
    try:
        response = BaseClient().get(
            "/api/environments/client-token-status", params={"client_token": token}
        )
        return response.status_code == 200
    except Exception as exc:
        logger.debug("client token status not checked: %s", type(exc).__name__)
        return False


def get_orgs_with_env_logger(org_features: list[Any]) -> list[str]:
    """Names of the organizations whose features include ``environments``."""
    return [
        str(org["org"])
        for org in org_features
        if isinstance(org, dict) and "environments" in (org.get("features") or [])
    ]
