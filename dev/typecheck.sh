#!/usr/bin/env bash
# mypy --strict on an installed copy of the package (mypy does not follow the package-dir mapping).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
copy="$(./dev/installed-copy.sh)"
trap 'rm -rf "$copy"' EXIT
# pyproject.toml for [tool.mypy] (its overrides keep the optional conda out of the check)
cd "$copy" && MYPYPATH="$copy/site" "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" \
    --strict -p anaconda_auth "$@"
