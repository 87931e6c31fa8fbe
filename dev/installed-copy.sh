#!/usr/bin/env bash
# Install the package as a user would get it (the package-dir mapping applied) into a new
# folder, from a copy of the working tree, and print the folder. A copy, so that setuptools'
# build/ directory can never carry a deleted module into the result.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src"
(cd "$work/src" && "$root/.venv/bin/python" -m pip install -q --no-deps --no-build-isolation \
    --target "$work/site" . >"$work/pip.log" 2>&1) || { cat "$work/pip.log" >&2; exit 1; }
rm -rf "$work/src"
echo "$work"
