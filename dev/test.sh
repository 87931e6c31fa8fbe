#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: system packages, venv, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="chromium chromium-driver gnome-keyring dbus dbus-x11 libsecret-tools"
if command -v apt-get >/dev/null; then
    missing=""
    for p in $DEBIAN_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
pip_log="$(mktemp)"
.venv/bin/python -m pip install -q -e ".[dev]" 2>"$pip_log" || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"
./dev/install-conda.sh  # real conda for tests/conda (../shared/wheels); skips them when absent

# The published release, in a venv of its own, for the compatibility tests and benchmarks.
REF="${ANACONDA_AUTH_REF_VENV:-$HOME/.cache/anaconda-auth/ref-0.15.3}"
if [ ! -x "$REF/bin/python" ] || ! "$REF/bin/python" -c "import anaconda_auth" 2>/dev/null; then
    python3 -m venv "$REF"
    "$REF/bin/python" -m pip install -q "anaconda-auth==0.15.3"
fi
export ANACONDA_AUTH_REF_VENV="$REF"

# Every stage runs, so one report shows all problems; the exit status says whether any failed.
failed=""
echo "== ruff"
.venv/bin/ruff check . || failed="$failed ruff-check"
.venv/bin/ruff format --check . || failed="$failed ruff-format"

echo "== mypy --strict (on an installed copy: mypy does not follow the package-dir mapping)"
./dev/typecheck.sh || failed="$failed mypy"

echo "== lint-imports (import layers, on an installed copy)"
./dev/lint-imports.sh || failed="$failed lint-imports"

echo "== pytest"
# No session bus is inherited: the Secret Service tests start their own dbus + gnome-keyring.
env -u DBUS_SESSION_BUS_ADDRESS .venv/bin/pytest "$@" || failed="$failed pytest"

# The published 0.15.3 suite, run unchanged against this package (docs/dev/compat-suite.md): a
# ratchet, not a gate on every case. Fewer passing cases than dev/compat-suite.floor fails the
# run; a suite that cannot be fetched (no index) is reported and not counted. Skipped when
# arguments select tests (a developer's partial run).
if [ "$#" -eq 0 ] && [ -z "${ANACONDA_AUTH_SKIP_COMPAT_SUITE:-}" ]; then
    echo "== the published anaconda-auth 0.15.3 test suite against this package"
    compat_log="$(mktemp)"
    if ./dev/compat-suite.sh >"$compat_log" 2>&1; then
        grep '^compat-suite: [0-9]' "$compat_log" || true
        passed="$(sed -n 's/^compat-suite: \([0-9][0-9]*\) of .*/\1/p' "$compat_log")"
        floor="$(cat dev/compat-suite.floor)"
        if [ "${passed:-0}" -lt "$floor" ]; then
            echo "fewer cases pass than dev/compat-suite.floor ($floor)"
            failed="$failed compat-suite"
        fi
    else
        tail -5 "$compat_log"
        echo "(the suite could not be fetched or installed; not counted)"
    fi
    rm -f "$compat_log"
fi

if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "All checks passed."
