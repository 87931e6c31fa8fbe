"""What the CLI tells about an API key: its expiry, whether the server accepts it, and the
warning shown when it expires soon.

Shared by ``status``, ``login --with-token``, ``login`` (a configured key that cannot be used)
and ``whoami`` / ``api-key`` (the expiry warning). Keys are never printed: only the site, the
account and dates.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anaconda_auth.config.model import AnacondaAuthSite
    from anaconda_auth.token import TokenInfo

API_KEY_ENV = "ANACONDA_AUTH_API_KEY"
#: Seconds to connect, and to wait for the answer, of one ``GET /api/account`` check.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


def now() -> dt.datetime:
    return dt.datetime.now(tz=dt.timezone.utc)


def key_expiry(api_key: str) -> dt.datetime | None:
    """The ``exp`` claim of a JWT API key (aware, UTC); ``None`` for no key or no claim."""
    from anaconda_auth.token_claims import expiry

    return expiry(api_key)


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (``2026-12-14T16:00:00Z``)."""
    if when is None:
        return None
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_text(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def humanize(delta: dt.timedelta) -> str:
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size or (unit == "minute" and seconds >= size):
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def relative(when: dt.datetime) -> str:
    """``in 3 days`` / ``3 days ago``."""
    delta = when - now()
    if delta.total_seconds() <= 0:
        return f"{humanize(delta)} ago"
    return f"in {humanize(delta)}"


def source_name(token: TokenInfo) -> str | None:
    """Where a key comes from: the storage backend's name, or the variable / setting."""
    if token.source == "environment":
        return API_KEY_ENV if os.environ.get(API_KEY_ENV) else "api_key setting"
    return token.source


def how_to_remove_configured_key() -> str:
    """How to stop using a key that comes from the configuration."""
    if os.environ.get(API_KEY_ENV):
        return (
            f"unset it (`unset {API_KEY_ENV}`; PowerShell: `Remove-Item Env:{API_KEY_ENV}`; "
            f"cmd: `set {API_KEY_ENV}=`)"
        )
    return "remove the api_key setting (`anaconda auth config` shows where it is set)"


def expires_soon(when: dt.datetime | None, config: AnacondaAuthSite) -> bool:
    """Unexpired, and expiring within the configured ``expiry_warning_days``."""
    if when is None:
        return False
    days = float(getattr(config, "expiry_warning_days", 7.0))
    left = when - now()
    return days > 0 and dt.timedelta(0) < left <= dt.timedelta(days=days)


def expiry_warning(
    site: str | None, domain: str, account: str | None, when: dt.datetime, command: str
) -> str:
    """The one line shown on stderr when the key in use expires soon."""
    who = f"{account} at " if account else ""
    where = f"site {site} ({domain})" if site and site != domain else domain
    return (
        f"Warning: the API key of {who}{where} expires on {date_text(when)} "
        f"({relative(when)}); renew it with `{command}`."
    )


def warn_if_expiring(config: AnacondaAuthSite, token: TokenInfo, command: str) -> None:
    """Print :func:`expiry_warning` on stderr when ``token``'s key expires soon."""
    from anaconda_auth.plugins.cli._state import err_console

    if token.api_key is None:
        return
    try:
        when = key_expiry(token.api_key)
        if not expires_soon(when, config) or when is None:
            return
    except Exception:  # noqa: BLE001 - a warning never breaks a command
        return
    line = expiry_warning(config.site, config.domain, token.username, when, command)
    err_console().print(line, markup=False, style="yellow")


@dataclass
class Check:
    """What the server said of a key: ``valid`` is ``None`` when it could not be asked."""

    valid: bool | None
    error: str | None = None
    account: dict[str, Any] | None = None


def check_key(config: AnacondaAuthSite, api_key: str) -> Check:
    """One bounded ``GET /api/account`` with ``api_key`` (sent only to the site itself)."""
    import requests

    from anaconda_auth.client import BaseClient

    try:
        with BaseClient(site=config, api_key=api_key) as client:
            response = client.get("/api/account", timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    except requests.exceptions.SSLError:
        return Check(None, f"the TLS certificate of {config.domain} could not be verified")
    except requests.Timeout:
        return Check(None, f"{config.domain} did not answer within {READ_TIMEOUT:g} s")
    except requests.RequestException as exc:
        return Check(None, f"could not reach {config.domain} ({type(exc).__name__})")
    if response.status_code in (401, 403):
        return Check(False, f"the server rejected the API key (HTTP {response.status_code})")
    if response.status_code != 200:
        return Check(None, f"the server answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return Check(None, "the server's answer was not JSON")
    return Check(True, None, body if isinstance(body, dict) else {})


def account_name(body: dict[str, Any] | None) -> str | None:
    """The account name of an ``/api/account`` reply: the email, as a browser login stores."""
    if not body:
        return None
    user = body.get("user")
    data: dict[str, Any] = user if isinstance(user, dict) else body
    for key in ("email", "username", "preferred_username"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None
