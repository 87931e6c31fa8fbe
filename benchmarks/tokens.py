"""Groups 3 and 5: TokenInfo load/save, and concurrent saves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import DOMAIN, REF_VERSION, Row, Side, pairwise, prepare, rotations

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- 3: TokenInfo load / save

TOKEN_OPS = """
import json, os, subprocess, sys, time
from anaconda_auth.token import TokenInfo

domain, n_load, n_save, ours = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
first = TokenInfo.load(domain)  # warm up: imports, config, plugin manager, caches
if ours:
    assert first.source == "anaconda-keyring", first.source

def per_op(fn, n):
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n

load = per_op(lambda i: TokenInfo.load(domain), n_load)

# Every timed save writes: the username changes each time (saving an unchanged token may be
# skipped, and would not measure a write). Count the fsyncs and replaces of our saves.
calls = {"fsync": 0, "replace": 0}
real_fsync, real_replace = os.fsync, os.replace
def fsync(fd):
    calls["fsync"] += 1
    return real_fsync(fd)
def replace(src, dst, **kw):
    calls["replace"] += 1
    return real_replace(src, dst, **kw)
os.fsync, os.replace = fsync, replace
info = TokenInfo.load(domain)
def save(i):
    info.username = f"bench-{os.getpid()}-{i}"
    info.save()
save_time = per_op(save, n_save)
os.fsync, os.replace = real_fsync, real_replace
assert TokenInfo.load(domain).username == info.username, "the last save was not stored"

# A write by another process is seen by the next load (nothing is cached past a change).
code = "import sys; from anaconda_auth.token import TokenInfo; " \\
    "i = TokenInfo.load(sys.argv[1]); i.username = 'other-process'; i.save()"
subprocess.run([sys.executable, "-c", code, domain], check=True)
assert TokenInfo.load(domain).username == "other-process", "a write by another process was missed"
print(json.dumps({"load": load, "save": save_time,
                  "fsync": calls["fsync"] / n_save, "replace": calls["replace"] / n_save}))
"""


def bench_token(ours: Side, ref: Side, runs: int) -> list[Row]:
    res: dict[str, dict[str, list[float]]] = {"ours": {}, "ref": {}}
    sides = [("ours", ours, 2000), ("ref", ref, 50)]
    for order in rotations(runs, 2):
        for i in order:
            key, side, n_load = sides[i]
            out = side.run_py(TOKEN_OPS, DOMAIN, str(n_load), "20", "1" if key == "ours" else "0")
            for op, v in json.loads(out).items():
                res[key].setdefault(op, []).append(v)
    o, r = res["ours"], res["ref"]
    durable = min(o["fsync"]) >= 2 and min(o["replace"]) >= 1
    return [
        Row("3 TokenInfo.load() (ours)", o["load"], "us", 100e-6),
        Row(f"3 TokenInfo.load() ({REF_VERSION})", r["load"], "us"),
        Row(f"3 load ours ÷ {REF_VERSION}", pairwise(o["load"], r["load"]), "x", 0.05),
        Row("3 TokenInfo.save() (ours)", o["save"], "us"),
        Row(f"3 TokenInfo.save() ({REF_VERSION}, no fsync)", r["save"], "us"),
        Row(f"3 save ours ÷ {REF_VERSION}", pairwise(o["save"], r["save"]), "x", 0.5),
        Row(
            "3 fsyncs per save (ours: file + directory)",
            o["fsync"],
            "n",
            2,
            at_least=True,
            every_run=True,
        ),
        Row(
            "3 atomic replaces per save (ours)" + ("" if durable else " — NOT DURABLE"),
            o["replace"],
            "n",
            1,
            at_least=True,
            every_run=True,
        ),
        Row(
            f"3 fsyncs per save ({REF_VERSION})",
            r["fsync"],
            "n",
        ),
    ]


# ---------------------------------------------------------------- 5: concurrent saves

CONCURRENT_WRITER = """
import sys
from anaconda_auth.token import TokenInfo
worker, count, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(count):
    TokenInfo(domain=f"w{worker}-{i}.example", api_key=key).save()
"""

CONCURRENT_COUNT = """
import json, sys
from anaconda_auth.token import TokenInfo
found, missing, errors = 0, 0, set()
for w in range(int(sys.argv[1])):
    for i in range(int(sys.argv[2])):
        try:
            info = TokenInfo.load(f"w{w}-{i}.example")
        except Exception as exc:
            # TokenNotFoundError, or the whole file unreadable
            if type(exc).__name__ == "TokenNotFoundError":
                missing += 1
            else:
                errors.add(type(exc).__name__)
            continue
        if info.api_key == sys.argv[3]:
            found += 1
print(json.dumps({"found": found, "missing": missing, "errors": sorted(errors)}))
"""


def bench_concurrency(
    side: Side, runs: int, workers: int = 8, count: int = 200
) -> tuple[Row, list[str]]:
    survived: list[float] = []
    problems: list[str] = []
    for _ in range(runs):
        prepare(side)
        procs = [
            subprocess.Popen(
                [side.python, "-c", CONCURRENT_WRITER, str(w), str(count), side.api_key],
                env=side.env(),
                cwd=side.home,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for w in range(workers)
        ]
        failed = 0
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                failed += 1
                last = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
                problems.append(f"{side.label}: a writer failed: {last[0][:160]}")
        out = json.loads(side.run_py(CONCURRENT_COUNT, str(workers), str(count), side.api_key))
        survived.append(float(out["found"]))
        if out["errors"]:
            problems.append(f"{side.label}: reading back raised {', '.join(out['errors'])}")
        if failed:
            problems.append(f"{side.label}: {failed} of {workers} writers exited with an error")
    total = workers * count
    row = Row(
        f"5 {workers}×{count} concurrent saves surviving ({side.label})",
        survived,
        "n",
        float(total) if side.label == "ours" else None,
        at_least=True,
        every_run=True,
    )
    return row, sorted(set(problems))
