"""Real TLS servers for tests: an echoing HTTPS server and a CONNECT proxy.

The certificates come from the testing kit's throwaway CA (``anaconda_auth.plugins.testing.ca``).
Everything binds 127.0.0.1 on a port the OS picks. Typical use::

    pki = create_tls_files(tmp_path, client_name="test-client")  # CA, server, client certs
    with EchoServer(pki) as server:                # https://127.0.0.1:<port>
        server.routes["/api/account"] = lambda req: (200, {}, {"user": {...}})
        requests.get(server.url + "/anything", verify=str(pki.ca_path))
        server.requests[-1].headers                # what the server received

A route returns ``(status, headers, body)``; a ``dict``/``list`` body is sent as JSON. Without
a route the server answers 200 with the request it saw (method, path, headers) as JSON.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from anaconda_auth.plugins.testing.ca import TLSFiles

_S = TypeVar("_S", bound="_Background")


class _Background:
    """A socketserver on 127.0.0.1 (a port the OS picks), served by a daemon thread while the
    object is used as a context manager (or between ``start()`` and ``stop()``)."""

    _server: socketserver.TCPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> socketserver.TCPServer:
        raise NotImplementedError

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    def start(self: _S) -> _S:
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The echoing HTTPS server
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_cert_subject: str | None = None

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


Route = Callable[[RecordedRequest], tuple[int, dict[str, str], Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _TLSHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        subject = None
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        if peer:
            rdns: Any = peer.get("subject", ())
            subject = ",".join(f"{k}={v}" for rdn in rdns for k, v in rdn)
        path = self.path.split("?", 1)[0]
        recorded = RecordedRequest(self.command, self.path, dict(self.headers), body, subject)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(recorded)
        route = owner.routes.get(path)
        headers: dict[str, str]
        payload: Any
        if route is None:
            status, headers, payload = (
                200,
                {},
                {"method": self.command, "path": self.path, "headers": dict(self.headers)},
            )
        else:
            status, headers, payload = route(recorded)
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = payload or b""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class _TLSHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: EchoServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the per-connection thread, so a client that
        # fails or stalls it never blocks the accept loop.
        try:
            request.settimeout(10)
            # no Nagle: headers and body are separate writes (avoids 40 ms delayed-ACK stalls)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.owner.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self.owner.lock:
                self.owner.tls_errors.append(str(exc))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up is not a test failure


@dataclass
class EchoServer(_Background):
    """An HTTPS server on 127.0.0.1 that records requests and answers from ``routes``."""

    tls: TLSFiles
    require_client_cert: bool = False
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    tls_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        if self.require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.tls.ca_path)
        self.context = context

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.netloc}"

    @property
    def last(self) -> RecordedRequest:
        with self.lock:
            return self.requests[-1]

    def _make_server(self) -> socketserver.TCPServer:
        server = _TLSHTTPServer(("127.0.0.1", 0), _Handler)
        server.owner = self
        return server


# ---------------------------------------------------------------------------------------------
# A CONNECT proxy
# ---------------------------------------------------------------------------------------------


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        headers = head.decode("latin-1").split("\r\n")[1:]
        method, target, _ = request_line.split(" ", 2)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((method, target, headers))
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        with upstream:
            sockets = [client, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for sock in readable:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    (upstream if sock is client else client).sendall(chunk)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ConnectProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class ConnectProxy(_Background):
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT); records (method, target, headers)."""

    requests: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _make_server(self) -> socketserver.TCPServer:
        server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        server.owner = self
        return server
