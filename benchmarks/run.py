"""Benchmarks: this checkout against the published anaconda-auth 0.15.3, side by side.

Creates (outside the repository) one venv with ``anaconda-auth==0.15.3`` from PyPI and one
with this checkout installed normally (not editable, as users get it), gives each a throwaway
HOME holding an unexpired token in file storage, and prints one table of medians with their
min-max. A/B runs are interleaved and ratios are taken pair by pair. Nothing here contacts
anything but loopback.

    python benchmarks/run.py [--runs 10] [--skip-install] [--markdown]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ANACONDA_AUTH_BENCH_CACHE", Path.home() / ".cache" / "anaconda-auth"))
REF_VENV = Path(os.environ.get("ANACONDA_AUTH_REF_VENV", CACHE / "ref-0.15.3"))
OURS_VENV = CACHE / "bench-ours"
DOMAIN = "anaconda.com"


def fake_api_key(lifetime: int = 30 * 24 * 3600) -> str:
    """An unsigned-looking JWT with an ``exp``: neither library verifies the signature."""

    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": "bench", "exp": int(time.time()) + lifetime, "scopes": ["cloud:read"]}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


# ---------------------------------------------------------------- environments


def _python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def _pip(venv: Path, *args: str) -> None:
    out = subprocess.run(
        [_python(venv), "-m", "pip", "install", "-q", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{out.stderr[-3000:]}")


def ensure_venvs(skip_install: bool) -> None:
    if not (REF_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        _pip(REF_VENV, "anaconda-auth==0.15.3")
    if not (OURS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(OURS_VENV)], check=True)
        _pip(OURS_VENV, "--upgrade", "pip", "setuptools", "wheel")
        _pip(OURS_VENV, str(REPO))
    elif not skip_install:
        _pip(OURS_VENV, "--force-reinstall", "--no-deps", str(REPO))


@dataclass
class Side:
    label: str
    venv: Path
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-home-")))

    @property
    def python(self) -> str:
        return _python(self.venv)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "HOME": str(self.home),
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "OTEL_SDK_DISABLED": "true",
            "ANACONDA_TELEMETRY_ENABLED": "false",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def run_py(self, code: str, **extra: str) -> str:
        out = subprocess.run(
            [self.python, "-c", textwrap.dedent(code)],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            cwd=self.home,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{self.label}: {out.stderr.strip()[-2000:]}")
        return out.stdout


SAVE_TOKEN = """
from anaconda_auth.token import TokenInfo
TokenInfo(domain={domain!r}, api_key={key!r}, username="bench").save()
"""


def prepare(side: Side) -> None:
    side.run_py(SAVE_TOKEN.format(domain=DOMAIN, key=fake_api_key()))


# ---------------------------------------------------------------- measuring


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} failed: {err[-1500:]}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, usage.ru_maxrss


@dataclass
class Row:
    name: str
    values: list[float]
    unit: str
    target: float | None = None  # the row passes when the median is <= target
    note: str = ""
    at_least: bool = False  # pass when >= target instead

    def cell(self) -> str:
        med = statistics.median(self.values)
        lo, hi = min(self.values), max(self.values)
        fmt = _fmt(self.unit)
        return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"

    def status(self) -> str:
        if self.target is None:
            return ""
        med = statistics.median(self.values)
        ok = med >= self.target if self.at_least else med <= self.target
        return "pass" if ok else "short"


def _fmt(unit: str):  # type: ignore[no-untyped-def]
    if unit == "x":
        return lambda v: f"{v:.3f}×"
    if unit == "ms":
        return lambda v: f"{v * 1e3:.1f} ms"
    if unit == "us":
        return lambda v: f"{v * 1e6:.1f} µs"
    if unit == "MiB":
        return lambda v: f"{v / 1024:.1f} MiB"
    return lambda v: f"{v:.0f}"


def pairwise(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def bench_import(ours: Side, ref: Side, runs: int) -> list[Row]:
    client: list[float] = []
    req: list[float] = []
    rss_client: list[float] = []
    rss_req: list[float] = []
    ref_client: list[float] = []
    for _ in range(runs):
        t, r = timed([ours.python, "-c", "import anaconda_auth.client"], ours.env(), ours.home)
        client.append(t)
        rss_client.append(r)
        t, r = timed([ours.python, "-c", "import requests"], ours.env(), ours.home)
        req.append(t)
        rss_req.append(r)
        t, _ = timed([ref.python, "-c", "import anaconda_auth.client"], ref.env(), ref.home)
        ref_client.append(t)
    return [
        Row("1 import anaconda_auth.client (ours)", client, "ms"),
        Row("1 import requests", req, "ms"),
        Row("1 import anaconda_auth.client (0.15.3)", ref_client, "ms"),
        Row("1 import time ÷ import requests", pairwise(client, req), "x", 1.25),
        Row("1 peak RSS ÷ import requests", pairwise(rss_client, rss_req), "x", 1.3),
        Row("1 import time ours ÷ 0.15.3", pairwise(client, ref_client), "x"),
    ]


def bench_cli(ours: Side, ref: Side, runs: int) -> list[Row]:
    api_ours: list[float] = []
    api_ref: list[float] = []
    bare: list[float] = []
    for _ in range(runs):
        api_ours.append(timed(["anaconda", "auth", "api-key"], ours.env(), ours.home)[0])
        bare.append(
            timed(["anaconda", "--help"], ours.env(ANACONDA_CLI_DISABLE_PLUGINS="1"), ours.home)[0]
        )
        api_ref.append(timed(["anaconda", "auth", "api-key"], ref.env(), ref.home)[0])
    return [
        Row("2 anaconda auth api-key (ours)", api_ours, "ms"),
        Row("2 anaconda auth api-key (0.15.3)", api_ref, "ms"),
        Row("2 anaconda --help, plugins disabled", bare, "ms"),
        Row("2 api-key ÷ bare anaconda", pairwise(api_ours, bare), "x", 1.1),
        Row("2 api-key ours ÷ 0.15.3", pairwise(api_ours, api_ref), "x", 0.8),
    ]


TOKEN_OPS = """
import json, time, statistics
from anaconda_auth.token import TokenInfo
TokenInfo.load({domain!r})  # warm up: imports, config, plugin manager, caches
def per_op(fn, n):
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n
load = per_op(lambda: TokenInfo.load({domain!r}), {n_load})
info = TokenInfo.load({domain!r})
save = per_op(info.save, {n_save})
print(json.dumps({{"load": load, "save": save}}))
"""


def bench_token(ours: Side, ref: Side, runs: int) -> list[Row]:
    res: dict[str, dict[str, list[float]]] = {"ours": {}, "ref": {}}
    for _ in range(runs):
        for key, side, n_load in (("ours", ours, 2000), ("ref", ref, 50)):
            out = json.loads(side.run_py(TOKEN_OPS.format(domain=DOMAIN, n_load=n_load, n_save=20)))
            for op, v in out.items():
                res[key].setdefault(op, []).append(v)
    o, r = res["ours"], res["ref"]
    return [
        Row("3 TokenInfo.load() (ours)", o["load"], "us", 100e-6),
        Row("3 TokenInfo.load() (0.15.3)", r["load"], "us"),
        Row("3 load ours ÷ 0.15.3", pairwise(o["load"], r["load"]), "x", 0.05),
        Row("3 TokenInfo.save() (ours, fsync + replace)", o["save"], "us"),
        Row("3 TokenInfo.save() (0.15.3)", r["save"], "us"),
        Row("3 save ours ÷ 0.15.3", pairwise(o["save"], r["save"]), "x", 0.5),
    ]


CLIENT_OPS = """
import json, os, socket, ssl, statistics, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import requests

cert, key = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
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
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()
    def get_request(self):
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

srv = Server(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
domain = f"127.0.0.1:{srv.server_address[1]}"

from anaconda_auth.client import BaseClient
from anaconda_auth.token import TokenInfo
TokenInfo(domain=domain, api_key=os.environ["BENCH_KEY"], username="bench").save()

BaseClient(domain=domain, ssl_verify=cert)
n = 2000
start = time.perf_counter()
for _ in range(n):
    BaseClient(domain=domain, ssl_verify=cert)
construct = (time.perf_counter() - start) / n

plain = requests.Session()
plain.trust_env = False
plain.verify = cert
ours = BaseClient(domain=domain, ssl_verify=cert)
url = f"https://{domain}/api/ping"
for s in (plain, ours):
    for _ in range(50):
        s.get(url).raise_for_status()
assert ours.get("/api/ping").request.headers.get("Authorization", "").startswith("Bearer ")
ratios = []
for _ in range(10):
    times = {}
    for name, s in (("plain", plain), ("ours", ours)):
        start = time.perf_counter()
        for _ in range(100):
            s.get(url)
        times[name] = time.perf_counter() - start
    ratios.append(times["ours"] / times["plain"])
print(json.dumps({"construct": construct, "ratio": statistics.median(ratios)}))
"""


def bench_client(ours: Side, runs: int) -> list[Row]:
    cert, key = _self_signed(ours.home)
    construct: list[float] = []
    ratio: list[float] = []
    for _ in range(max(3, runs // 3)):
        out = subprocess.run(
            [ours.python, "-c", CLIENT_OPS, str(cert), str(key)],
            env=ours.env(BENCH_KEY=fake_api_key()),
            capture_output=True,
            text=True,
            cwd=ours.home,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        data = json.loads(out.stdout)
        construct.append(data["construct"])
        ratio.append(data["ratio"])
    return [
        Row("4 BaseClient() construction", construct, "us", 200e-6),
        Row("4 per-request time ÷ plain requests.Session", ratio, "x", 1.03),
    ]


def _self_signed(where: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pkey, hashes.SHA256())
    )
    cert_path, key_path = where / "bench-cert.pem", where / "bench-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        pkey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


CONCURRENT_WRITER = """
import sys
from anaconda_auth.token import TokenInfo
worker, count, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(count):
    TokenInfo(domain=f"w{worker}-{i}.example", api_key=key).save()
"""

CONCURRENT_COUNT = """
import sys
from anaconda_auth.token import TokenInfo
from anaconda_auth.exceptions import TokenNotFoundError
found = 0
for w in range(int(sys.argv[1])):
    for i in range(int(sys.argv[2])):
        try:
            TokenInfo.load(f"w{w}-{i}.example")
            found += 1
        except TokenNotFoundError:
            pass
        except Exception:
            pass
print(found)
"""


def bench_concurrency(side: Side, runs: int, workers: int = 8, count: int = 200) -> Row:
    survived: list[float] = []
    key = fake_api_key()
    for _ in range(runs):
        keyring = side.home / ".anaconda" / "keyring"
        for leftover in keyring.parent.glob("keyring*"):
            leftover.unlink()
        prepare(side)
        procs = [
            subprocess.Popen(
                [side.python, "-c", CONCURRENT_WRITER, str(w), str(count), key],
                env=side.env(),
                cwd=side.home,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for w in range(workers)
        ]
        for p in procs:
            p.wait()
        out = side.run_py(
            CONCURRENT_COUNT.replace("sys.argv[1]", str(workers)).replace("sys.argv[2]", str(count))
        )
        survived.append(float(out.strip() or 0))
    total = workers * count
    return Row(
        f"5 {workers}×{count} concurrent saves surviving ({side.label})",
        survived,
        "n",
        float(total) if side.label == "ours" else None,
        at_least=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-install", action="store_true", help="reuse the installed copy")
    parser.add_argument("--only", default="12345", help="which groups to run, e.g. 13")
    args = parser.parse_args()

    ensure_venvs(args.skip_install)
    ours, ref = Side("ours", OURS_VENV), Side("0.15.3", REF_VENV)
    try:
        prepare(ours)
        prepare(ref)
        rows: list[Row] = []
        if "1" in args.only:
            rows += bench_import(ours, ref, args.runs)
        if "2" in args.only:
            rows += bench_cli(ours, ref, args.runs)
        if "3" in args.only:
            rows += bench_token(ours, ref, args.runs)
        if "4" in args.only:
            rows += bench_client(ours, args.runs)
        if "5" in args.only:
            conc_runs = max(1, args.runs // 5)
            rows.append(bench_concurrency(ours, conc_runs))
            rows.append(bench_concurrency(ref, conc_runs))
        print_table(rows, args.runs)
    finally:
        shutil.rmtree(ours.home, ignore_errors=True)
        shutil.rmtree(ref.home, ignore_errors=True)


def print_table(rows: list[Row], runs: int) -> None:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {cpu}; "
        f"Python {platform.python_version()}; {runs} interleaved runs; median (min–max)\n"
    )
    width = max(len(r.name) for r in rows)
    print(f"| {'measure'.ljust(width)} | median (min–max) | target | status |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for r in rows:
        target = ""
        if r.target is not None:
            target = ("≥ " if r.at_least else "≤ ") + _fmt(r.unit)(r.target)
        print(f"| {r.name.ljust(width)} | {r.cell()} | {target} | {r.status()} |")


if __name__ == "__main__":
    main()
