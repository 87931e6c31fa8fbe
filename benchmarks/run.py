"""Benchmarks: this checkout against the published anaconda-auth 0.15.3, side by side.

Creates (outside the repository) one venv with ``anaconda-auth==0.15.3`` from PyPI and one
with this checkout installed normally (not editable, as users get it), gives each a throwaway
HOME holding an unexpired token in file storage, and prints one table of medians with their
min-max and the target of each figure. A/B runs are interleaved (the order rotates) and ratios
are taken pair by pair. Nothing here contacts anything but loopback (and PyPI, once, to create
the venvs).

Before timing anything it checks that each figure measures what it claims: the token each side
reads comes from its keyring file, ``anaconda auth api-key`` prints the stored key, every timed
save writes (and, for this checkout, fsyncs and atomically replaces) the file, and the client
sends the stored key to the loopback server.

    python benchmarks/run.py [--runs 10] [--skip-install] [--only 123456]

``ANACONDA_AUTH_REF_VENV`` points at an existing venv with anaconda-auth 0.15.3;
``ANACONDA_AUTH_BENCH_CACHE`` moves the venvs (default ``~/.cache/anaconda-auth``).
"""

import argparse
import shutil

from harness import (
    OURS_VENV,
    REF_VENV,
    REF_VERSION,
    Row,
    Side,
    ensure_venvs,
    load_average,
    prepare,
    print_table,
)
from request_overhead import bench_client
from startup import bench_big_env, bench_cli, bench_import
from tokens import bench_concurrency, bench_token


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per figure (at least 10)")
    parser.add_argument("--skip-install", action="store_true", help="reuse the installed copy")
    parser.add_argument("--only", default="123456", help="which groups to run, e.g. 13")
    parser.add_argument(
        "--concurrency-runs", type=int, default=3, help="runs of group 5 (each is 8×200 saves)"
    )
    args = parser.parse_args()

    started = load_average()
    ensure_venvs(args.skip_install)
    ours, ref = Side("ours", OURS_VENV), Side(REF_VERSION, REF_VENV)
    notes: list[str] = []
    try:
        for side in (ours, ref):
            notes.append(f"{side.label}: token stored in a {prepare(side)}")
        rows: list[Row] = []
        if "1" in args.only:
            rows += bench_import(ours, ref, args.runs)
        if "2" in args.only:
            rows += bench_cli(ours, ref, args.runs)
        if "3" in args.only:
            rows += bench_token(ours, ref, args.runs)
            prepare(ours)
            prepare(ref)
        if "4" in args.only:
            rows += bench_client(ours, args.runs)
        if "5" in args.only:
            for side in (ours, ref):
                row, problems = bench_concurrency(side, args.concurrency_runs)
                rows.append(row)
                notes += problems
        if "6" in args.only:
            prepare(ours)  # group 5 leaves 0.15.3's keyring without the token
            prepare(ref)
            rows += bench_big_env(ours, ref, args.runs, notes)
        print_table(rows, args.runs, notes, started)
    finally:
        shutil.rmtree(ours.home, ignore_errors=True)
        shutil.rmtree(ref.home, ignore_errors=True)


if __name__ == "__main__":
    main()
