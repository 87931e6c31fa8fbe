"""Checking a repo token against the repository before it is stored (no conda needed)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit


class CondaTokenError(RuntimeError):
    """A token that the repository refused, or that could not be checked."""


REFUSED = "The token could not be validated. Please check that you have typed it correctly."


def token_url(repo_url: str, token: str, path: str = "main/noarch/repodata.json") -> str:
    """``path`` under ``repo_url`` with the token in conda's ``/t/<token>/`` form."""
    parts = urlsplit(urljoin(repo_url, path))
    return urlunsplit(parts._replace(path=f"/t/{quote(token, safe='')}{parts.path}"))


def check_token(session: Any, repo_url: str, token: str) -> None:
    """HEAD the ``main`` channel's repodata with ``token``; :class:`CondaTokenError` unless 200.

    The message says why (the status and the server's reason, or the connection error), and
    never contains the token.
    """
    import requests

    url = token_url(repo_url, token)
    try:
        response = session.head(url, timeout=30, allow_redirects=True, verify=session.verify)
    except requests.exceptions.SSLError as exc:
        raise CondaTokenError(
            f"The token could not be validated: the TLS connection to {urlsplit(url).netloc} "
            f"failed ({_scrub(exc, token)}). If you use a private certificate authority, set "
            "`ssl_verify` in your .condarc to its CA bundle."
        ) from None
    except requests.exceptions.RequestException as exc:
        raise CondaTokenError(
            f"The token could not be validated: {urlsplit(url).netloc} could not be reached "
            f"({_scrub(exc, token)})."
        ) from None
    if response.status_code == 200:
        return
    reason = {401: "the repository asks for a token", 403: "the repository refused the token"}
    why = reason.get(response.status_code, f"the repository answered HTTP {response.status_code}")
    raise CondaTokenError(f"{REFUSED} (HTTP {response.status_code}: {why}.)")


def _scrub(exc: BaseException, token: str) -> str:
    text = str(exc)
    for form in {token, quote(token, safe="")}:
        text = text.replace(form, "<token>")
    return text
