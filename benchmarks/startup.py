"""Groups 1, 2 and 6: import cost, the CLI, and start-up in a big environment."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from harness import (
    CACHE,
    DOMAIN,
    LAZY,
    LAZY_OURS,
    REF_VERSION,
    Row,
    Side,
    pairwise,
    rotations,
    timed,
)

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- 1: import


LAZY_CHECK = """
import sys
import anaconda_auth.client
heavy = {heavy!r}
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)))
"""


def bench_import(ours: Side, ref: Side, runs: int) -> list[Row]:
    loaded = ours.run_py(LAZY_CHECK.format(heavy=set(LAZY + LAZY_OURS))).split()
    cmds = [
        (ours, "import anaconda_auth.client"),
        (ours, "import requests"),
        (ref, "import anaconda_auth.client"),
    ]
    times: list[list[float]] = [[] for _ in cmds]
    rss: list[list[float]] = [[] for _ in cmds]
    for order in rotations(runs, len(cmds)):
        for i in order:
            side, code = cmds[i]
            t, r = timed([side.python, "-c", code], side.env(), side.home)
            times[i].append(t)
            rss[i].append(r)
    client, req, ref_client = times
    return [
        Row("1 import anaconda_auth.client (ours)", client, "ms"),
        Row("1 import requests", req, "ms"),
        Row(f"1 import anaconda_auth.client ({REF_VERSION})", ref_client, "ms"),
        Row("1 import time ÷ import requests", pairwise(client, req), "x", 1.25),
        Row("1 peak RSS (ours)", rss[0], "MiB"),
        Row("1 peak RSS ÷ import requests", pairwise(rss[0], rss[1]), "x", 1.3),
        Row(f"1 import time ours ÷ {REF_VERSION}", pairwise(client, ref_client), "x"),
        Row(
            f"1 lazy modules imported anyway{': ' + ', '.join(loaded) if loaded else ''}",
            [float(len(loaded))],
            "n",
            0,
        ),
    ]


# ---------------------------------------------------------------- 2: CLI


def _check_api_key(side: Side) -> None:
    out = subprocess.run(
        ["anaconda", "auth", "api-key"],
        env=side.env(),
        cwd=side.home,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0 or out.stdout.strip() != side.api_key:
        raise RuntimeError(
            f"{side.label}: `anaconda auth api-key` did not print the stored key "
            f"(exit {out.returncode}): {out.stderr[-1000:]}"
        )


def bench_cli(ours: Side, ref: Side, runs: int) -> list[Row]:
    _check_api_key(ours)
    _check_api_key(ref)
    cmds = [
        (ours, ["anaconda", "auth", "api-key"], {}),
        (ours, ["anaconda", "--help"], {"ANACONDA_CLI_DISABLE_PLUGINS": "1"}),
        (ref, ["anaconda", "auth", "api-key"], {}),
    ]
    times: list[list[float]] = [[] for _ in cmds]
    for order in rotations(runs, len(cmds)):
        for i in order:
            side, argv, extra = cmds[i]
            times[i].append(timed(argv, side.env(**extra), side.home)[0])
    api_ours, bare, api_ref = times
    return [
        Row("2 anaconda auth api-key (ours)", api_ours, "ms"),
        Row(f"2 anaconda auth api-key ({REF_VERSION})", api_ref, "ms"),
        Row("2 anaconda --help, ANACONDA_CLI_DISABLE_PLUGINS=1", bare, "ms"),
        Row("2 api-key ÷ bare anaconda", pairwise(api_ours, bare), "x", 1.1),
        Row(f"2 api-key ours ÷ {REF_VERSION}", pairwise(api_ours, api_ref), "x", 0.8),
    ]


# ---------------------------------------------------------------- 6: start-up in a big environment

#: How many fake distributions group 6 puts on ``sys.path`` (a conda base environment holds
#: hundreds).
EXTRA_DISTS = 600
#: Unrelated entry-point groups some of the fake distributions declare.
FAKE_GROUPS = ("console_scripts", "pytest11", "conda", "jupyter_serverproxy_servers", "gui_scripts")

FIRST_LOAD = """
import json, sys, time
start, cpu = time.perf_counter(), time.process_time()
from anaconda_auth.token import TokenInfo
info = TokenInfo.load(sys.argv[1])
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
assert info.api_key == sys.argv[2], "the stored key was not read"
print(json.dumps({"wall": wall, "cpu": cpu}))
"""


def fake_dists(count: int = EXTRA_DISTS) -> Path:
    """A directory of ``count`` minimal ``*.dist-info`` folders (METADATA; every third with an
    ``entry_points.txt`` in unrelated groups), made once under the cache directory and dated an
    hour back, like an environment installed earlier."""
    root = CACHE / f"fake-dists-{count}"
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for i in range(count):
        name = f"fake_dist_{i:04d}"
        info = root / f"{name}-1.{i}.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{i}.0\nSummary: benchmark filler\n"
        )
        (info / "RECORD").write_text("")
        if i % 3 == 0:
            group = FAKE_GROUPS[i % len(FAKE_GROUPS)]
            (info / "entry_points.txt").write_text(
                f"[{group}]\n{name} = {name}.main:run\n\n[console_scripts]\n"
                f"{name}-cli = {name}.cli:main\n"
            )
    past = time.time() - 3600
    for path in (*root.rglob("*"), root):
        os.utime(path, (past, past))
    marker.touch()
    os.utime(root, (past, past))
    return root


def bench_big_env(ours: Side, ref: Side, runs: int, notes: list[str]) -> list[Row]:
    """The first ``TokenInfo.load()`` of a fresh process (import included, timed inside the
    process), with and without ``EXTRA_DISTS`` more distributions on ``sys.path``. The figures
    are the CPU time of the process over that span (``time.process_time``): on a shared machine
    its wall time mostly measures the wait for a core; the wall-time deltas are a note."""
    extra = str(fake_dists())
    ours_cache = ours.home / ".cache" / "anaconda-auth" / "entry-points.json"
    for side in (ours, ref):  # warm up: a user's environment has run processes before
        for path in ("", extra):
            side.run_py(FIRST_LOAD, DOMAIN, side.api_key, PYTHONPATH=path)
    cmds: list[tuple[Side, str, bool]] = [
        (ours, "", False),
        (ours, extra, False),
        (ref, "", False),
        (ref, extra, False),
        (ours, extra, True),  # the first process after an install: the cache is rebuilt
    ]
    times: list[list[float]] = [[] for _ in cmds]
    walls: list[list[float]] = [[] for _ in cmds]
    for order in rotations(runs, len(cmds)):
        for i in order:
            side, path, cold = cmds[i]
            if cold:
                ours_cache.unlink(missing_ok=True)
            out = json.loads(side.run_py(FIRST_LOAD, DOMAIN, side.api_key, PYTHONPATH=path))
            times[i].append(out["cpu"])
            walls[i].append(out["wall"])
    o0, o600, r0, r600, cold = times
    wall_ours = statistics.median(_deltas(walls[1], walls[0])) * 1e3
    wall_ref = statistics.median(_deltas(walls[3], walls[2])) * 1e3
    notes.append(
        f"group 6 wall-time deltas (median, same runs): ours {wall_ours:.1f} ms, "
        f"{REF_VERSION} {wall_ref:.1f} ms"
    )
    return [
        Row("6 first TokenInfo.load() in a new process, CPU (ours)", o0, "ms"),
        Row(f"6 same, {EXTRA_DISTS} more distributions (ours)", o600, "ms"),
        Row(
            f"6 {EXTRA_DISTS} more distributions: extra time (ours)", _deltas(o600, o0), "ms", 5e-3
        ),
        Row(f"6 first TokenInfo.load() in a new process, CPU ({REF_VERSION})", r0, "ms"),
        Row(f"6 same, {EXTRA_DISTS} more distributions ({REF_VERSION})", r600, "ms"),
        Row(
            f"6 {EXTRA_DISTS} more distributions: extra time ({REF_VERSION})",
            _deltas(r600, r0),
            "ms",
        ),
        Row(f"6 {EXTRA_DISTS} more, first process after an install (ours)", cold, "ms"),
    ]


def _deltas(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]
