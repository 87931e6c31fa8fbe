#!/usr/bin/env bash
# import-linter contracts (pyproject.toml [tool.importlinter]) on an installed copy of the
# package: grimp, like mypy, does not follow the package-dir mapping of storage_backends/ and
# plugins/ into anaconda_auth.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
copy="$(./dev/installed-copy.sh)"
trap 'rm -rf "$copy"' EXIT
cd "$copy" && PYTHONPATH="$copy/site" "$root/.venv/bin/lint-imports" "$root/pyproject.toml" --no-cache "$@"
