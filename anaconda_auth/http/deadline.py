"""A total deadline and a size cap for one request (the login's requests).

``requests``' ``timeout`` bounds each socket operation, not the request: a server that sends one
byte a second never trips a 30 s read timeout. :class:`Deadline` starts a timer for the whole
request; when it runs out, the socket of every connection the request used is shut down, so
the blocked read returns at once and the request fails (the caller names the deadline).
Connections are registered by :class:`DeadlineAdapter`, which hands its pools a connection
class that reports itself to the deadline of the current thread; without a deadline that is
one attribute lookup per request.

:func:`read_capped` reads a streamed body and stops past a number of bytes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import requests

from anaconda_auth.http.tls import SSLContextAdapter

_local = threading.local()


class Deadline:
    """A context manager: the requests made inside it on this thread end by ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _local.deadline = self._outer

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for conn in connections:
            _shut_down(conn)

    def watch(self, conn: Any) -> None:
        # The socket, not the connection: http.client drops conn.sock once a "Connection:
        # close" reply has begun, while the reply goes on reading from it.
        sock = getattr(conn, "sock", None)
        if sock is None:
            return
        with self._lock:
            if sock not in self._connections:
                self._connections.append(sock)
            expired = self.expired
        if expired:
            _shut_down(sock)


def _shut_down(sock: Any) -> None:
    """End every blocked read on ``sock`` (the reading thread sees end of file)."""
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


def _note(conn: Any) -> None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(conn)


_watched_classes: dict[Any, Any] = {}


def _watched(base: Any) -> Any:
    """``base`` (a urllib3 connection class) reporting itself to the thread's deadline."""
    cls = _watched_classes.get(base)
    if cls is None:

        def connect(self: Any) -> None:
            _note(self)
            base.connect(self)
            _note(self)

        def request(self: Any, *args: Any, **kwargs: Any) -> Any:
            _note(self)
            return base.request(self, *args, **kwargs)

        def getresponse(self: Any, *args: Any, **kwargs: Any) -> Any:
            _note(self)
            return base.getresponse(self, *args, **kwargs)

        namespace = {
            "connect": connect,
            "request": request,
            "getresponse": getresponse,
            "_anaconda_auth_watched": True,
        }
        cls = _watched_classes[base] = type(f"Watched{base.__name__}", (base,), namespace)
    return cls


class DeadlineAdapter(SSLContextAdapter):
    """An :class:`SSLContextAdapter` whose connections can be cut off by a :class:`Deadline`."""

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> Any:
        pool: Any = super().get_connection_with_tls_context(request, verify, proxies, cert)
        if not getattr(pool.ConnectionCls, "_anaconda_auth_watched", False):
            pool.ConnectionCls = _watched(pool.ConnectionCls)
        return pool


class ReplyTooLarge(Exception):
    """The body was longer than the cap; the connection was closed."""


def read_capped(response: requests.Response, limit: int) -> None:
    """Read the streamed body of ``response`` into ``response.content``, at most ``limit``
    bytes; more raises :class:`ReplyTooLarge` (and closes the connection)."""
    content: Any = getattr(response, "_content", None)
    if content is not False:  # already read, or a response-like object built by hand (a test)
        if isinstance(content, (bytes, bytearray)) and len(content) > limit:
            raise ReplyTooLarge
        return
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ReplyTooLarge
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > limit:
            response.close()
            raise ReplyTooLarge
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]
