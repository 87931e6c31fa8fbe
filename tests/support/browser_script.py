"""A fake web browser for the login tests: ``$BROWSER="python .../browser_script.py %s"``.

It GETs the URL it is given and follows redirects one hop at a time (HTTPS with the CA in
``BROWSER_SCRIPT_CA``; plain HTTP for the loopback callback), like a browser whose user is
already signed in at an auto-approving provider. Every hop is appended to the JSON-lines file
``BROWSER_SCRIPT_LOG`` as ``{"url", "status", "location", "body"}``.

``BROWSER_SCRIPT_MODE`` changes what it does:

- ``follow`` (default): follow every redirect;
- ``no-callback``: stop before the loopback callback (the user closed the tab);
- ``replay``: follow everything, then request the callback URL once more;
- ``concurrent-replay``: request the callback, and while the login holds that request, the
  same callback URL again;
- ``visit:<url>``: ignore the given URL and open ``<url>`` instead (an old callback);
- ``fail``: exit with status 1 without doing anything (a broken browser command).

With ``BROWSER_SCRIPT_NOTIFY`` (``host:port``) set, a run first connects there and waits for one
byte before it opens anything, and keeps the connection until it exits: the test then knows
when every run it caused is over (see ``support.login.BrowserRuns``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import requests


def _log(entry: dict[str, object]) -> None:
    path = os.environ.get("BROWSER_SCRIPT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def _is_callback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost"}


def _get(session: requests.Session, url: str) -> requests.Response | None:
    try:
        response = session.get(url, allow_redirects=False, timeout=60)
    except requests.RequestException as exc:
        _log({"url": url, "status": None, "error": type(exc).__name__})
        return None
    _log(
        {
            "url": url,
            "status": response.status_code,
            "location": response.headers.get("Location"),
            "body": response.text[:2000],
        }
    )
    return response


@contextlib.contextmanager
def _reporting_run() -> Iterator[None]:
    address = os.environ.get("BROWSER_SCRIPT_NOTIFY")
    if not address:
        yield
        return
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.recv(1)
        yield


def main(argv: list[str]) -> int:
    with _reporting_run():
        return _browse(argv)


def _browse(argv: list[str]) -> int:
    mode = os.environ.get("BROWSER_SCRIPT_MODE", "follow")
    if mode == "fail":
        return 1
    url = argv[1]
    if mode.startswith("visit:"):
        url = mode[len("visit:") :]
    session = requests.Session()
    session.trust_env = False
    session.verify = os.environ.get("BROWSER_SCRIPT_CA", True)
    callback: str | None = None
    for _ in range(20):
        if _is_callback(url):
            if mode == "no-callback":
                return 0
            callback = url
            if mode == "concurrent-replay":
                first = threading.Thread(target=_get, args=(session, url))
                first.start()
                time.sleep(0.5)
                _get(session, url)
                first.join()
                return 0
        response = _get(session, url)
        if response is None or not response.is_redirect:
            break
        url = urljoin(url, response.headers["Location"])
    if mode == "replay" and callback is not None:
        _get(session, callback)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
