"""A Panel app whose users sign in with Anaconda (the README's example, used by the e2e tests).

Register a confidential OAuth client for the app at your Anaconda identity provider, with the
app's URL (``http://localhost:5006``) as redirect URI, then::

    pip install "anaconda-auth[panel]"
    panel serve panel_app.py --oauth-provider anaconda_auth \\
        --oauth-key "$CLIENT_ID" --oauth-secret "$CLIENT_SECRET" \\
        --cookie-secret "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \\
        --oauth-encryption-key "$(panel oauth-secret)" \\
        --oauth-refresh-tokens          # optional: keep sessions alive with refresh tokens
        # --oauth-optional              # optional: let guests in, with a "Sign in" link

``pn.state.user`` is the user's email (``"guest"`` for a guest), ``pn.state.user_info`` the
OpenID claims, and ``pn.state.access_token`` a token for calls to Anaconda APIs on the
user's behalf (never show or log it; this app shows a short fingerprint only).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from urllib.parse import urljoin

import panel as pn
from anaconda_auth.plugins.panel import DiscoveryError, logout_url


def token_summary(token: str | None) -> str:
    """A fingerprint and the expiry of an access token, never the token itself."""
    if not token:
        return "no access token"
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc)
    except (IndexError, KeyError, ValueError):
        return f"access token {fingerprint}"
    return f"access token {fingerprint}, valid until {expires:%H:%M:%S} UTC"


user = pn.state.user
if user in (None, "guest"):
    title = "Welcome, guest"
    body = "You are browsing as a guest. [Sign in with Anaconda](/login)"
else:
    claims = pn.state.user_info or {}
    title = f"Signed in as {user}"
    # Panel's /logout clears the app's cookies. "Sign out of Anaconda" ends the provider's
    # session as well, and the provider then sends the browser to the app's /logout.
    location = pn.state.location
    try:
        provider_logout = logout_url(urljoin(location.href, "/logout") if location else None)
    except DiscoveryError:
        provider_logout = None
    body = "\n\n".join(
        [
            f"Hello **{claims.get('name') or user}**, you are signed in as `{user}`.",
            token_summary(pn.state.access_token),
            "[Log out of this app](/logout)"
            + (f" · [Sign out of Anaconda]({provider_logout})" if provider_logout else ""),
        ]
    )

pn.Column(f"# {title}", pn.pane.Markdown(body)).servable(title=title)
