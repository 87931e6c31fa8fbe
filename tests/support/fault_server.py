"""A tiny plain-HTTP loopback server that misbehaves on purpose, one mode per path.

Each route maps a path (query ignored) to a behaviour::

    with FaultServer() as server:
        server.routes["/slow"] = Stall()                  # accept, read the request, never answer
        server.routes["/drip"] = Drip(b'{"a": 1}')        # headers, then one byte per interval
        server.routes["/reset"] = Reset()                 # close with a TCP reset
        server.routes["/big"] = Reply(200, b"x" * 10**7)  # any status, headers and body
        server.routes["/flaky"] = Sequence([Reply(503, b""), Reply(200, b"{}")])
        requests.get(server.url + "/drip", timeout=...)
        server.hits["/flaky"]                              # requests received per path
        server.requests[-1]                                # (method, path, headers) of each

Unknown paths answer 404. Stalls and drips end when the server stops, so a test that gives
up early never leaves a thread behind for long.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def serve(self, conn: socket.socket, server: FaultServer) -> None:
        reason = {200: "OK", 201: "Created", 302: "Found", 404: "Not Found"}.get(self.status, "X")
        head = [f"HTTP/1.1 {self.status} {reason}"]
        headers = {"Content-Length": str(len(self.body)), "Connection": "close", **self.headers}
        head += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body)


@dataclass
class Stall:
    """Read the request, then send nothing until the server stops."""

    def serve(self, conn: socket.socket, server: FaultServer) -> None:
        server.stopping.wait()


@dataclass
class Drip:
    """A 200 whose headers come at once (``drip_headers=False``) and whose body then comes one
    byte every ``interval`` seconds; with ``drip_headers`` the status line drips too."""

    body: bytes = b'{"access_token": "x"}' + b" " * 10_000
    interval: float = 0.1
    drip_headers: bool = False

    def serve(self, conn: socket.socket, server: FaultServer) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        ).encode("ascii")
        data = head + self.body
        if not self.drip_headers:
            conn.sendall(head)
            data = self.body
        for i in range(len(data)):
            if server.stopping.wait(self.interval):
                return
            conn.sendall(data[i : i + 1])


@dataclass
class Reset:
    """Close the connection with a TCP reset (SO_LINGER 0) right after reading the request."""

    def serve(self, conn: socket.socket, server: FaultServer) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@dataclass
class Sequence:
    """The behaviours in turn, one per request; the last one repeats."""

    steps: Seq[Any]
    _index: int = 0

    def serve(self, conn: socket.socket, server: FaultServer) -> None:
        step = self.steps[min(self._index, len(self.steps) - 1)]
        self._index += 1
        step.serve(conn, server)


class FaultServer:
    """Plain HTTP on 127.0.0.1 (a port the OS picks); one thread per connection."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int(headers.get("Content-Length", "0"))
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                path = target.split("?", 1)[0]
                with self._lock:
                    self.hits[path] += 1
                    self.requests.append((method, path, headers))
                behaviour = self.routes.get(path, Reply(404, b"not found"))
                behaviour.serve(conn, self)
            except OSError:
                return


def elapsed(start: float) -> float:
    return time.monotonic() - start
