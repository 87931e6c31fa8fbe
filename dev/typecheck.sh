#!/usr/bin/env bash
# mypy --strict on an installed copy of the package (mypy does not follow the package-dir mapping).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
typedir="$(mktemp -d)"
trap 'rm -rf "$typedir"' EXIT
"$root/.venv/bin/python" -m pip install -q --no-deps --no-build-isolation --target "$typedir/site" . >/dev/null 2>&1
cd "$typedir" && MYPYPATH="$typedir/site" "$root/.venv/bin/mypy" --strict -p anaconda_auth "$@"
