"""Group 4: a BaseClient request against a plain requests.Session, on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import Row, Side, rotations

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- 4: BaseClient

#: The loopback server, in a process of its own (as a real server is): in the measuring process
#: its threads would compete with the client for the interpreter lock and hide the client's
#: cost. GET /api/ping answers a small JSON body; GET /api/echo answers the Authorization sent.
SERVER = """
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as against a real server
    def do_GET(self):
        if self.path == "/api/echo":
            body = (self.headers.get("Authorization") or "").encode()
        else:
            body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    daemon_threads = True
    def get_request(self):
        conn, addr = super().get_request()
        # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to each response.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""

CLIENT_OPS = """
import json, os, statistics, subprocess, sys, time
import requests

server = subprocess.Popen([sys.executable, "-c", sys.argv[2]], stdout=subprocess.PIPE, text=True)
base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
key = sys.argv[1]

from anaconda_auth.client import BaseClient

BaseClient()
n = 2000
start = time.perf_counter()
for _ in range(n):
    BaseClient()
construct = (time.perf_counter() - start) / n

# The client sends the stored key (looked up for every request); the plain session is given
# the same headers by hand, so both send the same bytes.
ours = BaseClient(base_uri=base)
plain = requests.Session()
plain.headers.update({k: v for k, v in ours.headers.items()})
plain.headers["Authorization"] = f"Bearer {key}"
url = f"{base}/api/ping"
for s in (plain, ours):
    for _ in range(50):
        s.get(url).raise_for_status()
assert ours.get("/api/echo").text == f"Bearer {key}", "the client did not send the stored key"
ratios = []
per_request = []
for r in range(20):
    times = {}
    pair = (("plain", plain), ("ours", ours))
    for name, s in (pair if r % 2 else pair[::-1]):
        start = time.perf_counter()
        for _ in range(50):
            s.get(url)
        times[name] = (time.perf_counter() - start) / 50
    ratios.append(times["ours"] / times["plain"])
    per_request.append(times["plain"])

# Single requests, alternating, each timed: the median of each side is robust to the spikes a
# shared machine adds to some requests (a batch containing one is off by the whole spike).
single = {"plain": [], "ours": []}
for i in range(2000):
    pair = (("plain", plain), ("ours", ours))
    for name, s in (pair if i % 2 else pair[::-1]):
        start = time.perf_counter()
        s.get(url)
        single[name].append(time.perf_counter() - start)
alternating = statistics.median(single["ours"]) / statistics.median(single["plain"])

# Right after a save (another process's login, a token refresh): the keyring changed less than
# two seconds ago, when its stat alone is not trusted to show the next change.
keyring = os.path.expanduser("~/.anaconda/keyring")
racy = []
for r in range(10):
    times = {}
    pair = (("plain", plain), ("ours", ours))
    for name, s in (pair if r % 2 else pair[::-1]):
        os.utime(keyring)  # the mtime a save leaves: now
        start = time.perf_counter()
        for _ in range(50):
            s.get(url)
        times[name] = (time.perf_counter() - start) / 50
    racy.append(times["ours"] / times["plain"])
server.kill()
print(json.dumps({"construct": construct, "ratio": statistics.median(ratios),
                  "plain": statistics.median(per_request), "racy": statistics.median(racy),
                  "alternating": alternating}))
"""


BUSY = "while True: pass"


def bench_client(ours: Side, runs: int) -> list[Row]:
    """Each run twice, alternately quiet and with a busy process alongside (a CPU-bound loop:
    other work on the machine), the order rotating."""
    construct: list[float] = []
    ratio: dict[bool, list[float]] = {False: [], True: []}
    racy: list[float] = []
    alternating: dict[bool, list[float]] = {False: [], True: []}
    plain: dict[bool, list[float]] = {False: [], True: []}
    for order in rotations(runs, 2):
        for loaded in (bool(i) for i in order):
            busy = subprocess.Popen([sys.executable, "-c", BUSY]) if loaded else None
            try:
                data = json.loads(ours.run_py(CLIENT_OPS, ours.api_key, SERVER))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            if not loaded:
                construct.append(data["construct"])
                racy.append(data["racy"])
            ratio[loaded].append(data["ratio"])
            alternating[loaded].append(data["alternating"])
            plain[loaded].append(data["plain"])
    return [
        Row("4 BaseClient() construction", construct, "us", 200e-6),
        Row("4 GET on loopback HTTP, plain requests.Session", plain[False], "us"),
        Row("4 per-request time ÷ plain requests.Session", ratio[False], "x", 1.03),
        Row("4 same GET, with a busy process alongside", plain[True], "us"),
        Row("4 per-request ÷ plain, with a busy process alongside", ratio[True], "x", 1.03),
        Row("4 same, single requests alternating (median of each)", alternating[False], "x", 1.03),
        Row("4 same, single requests alternating, busy process", alternating[True], "x", 1.03),
        Row("4 per-request ÷ plain, keyring changed < 2 s before", racy, "x"),
    ]
