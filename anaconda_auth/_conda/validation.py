"""Checking a repo token against the repository before it is stored (no conda needed)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

#: Loggers that print request URLs (urllib3's retry warnings, its DEBUG request lines).
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")


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
        with _scrubbed_logs(token):
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


class _Scrub(logging.Filter):
    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "<token>")
            record.msg, record.args = text, ()
        return True


@contextmanager
def _scrubbed_logs(token: str) -> Iterator[None]:
    """While the check runs, urllib3's log lines (its retry warnings name the URL, and so the
    ``/t/<token>/`` path) show ``<token>`` instead of the token."""
    scrub = _Scrub({token, quote(token, safe="")})
    loggers = [logging.getLogger(name) for name in _URL_LOGGERS]
    for logger in loggers:
        logger.addFilter(scrub)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(scrub)
