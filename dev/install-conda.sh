#!/usr/bin/env bash
# Install real conda into .venv for the tests in tests/conda (conda is not on PyPI): the wheel
# of ../shared/wheels (built from conda's own source), then its dependencies from PyPI.
# Without the wheel this prints why and exits 0: the conda tests then skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
# ../shared/wheels next to the checkout (or next to the folder of a git worktree).
DIRS="${CONDA_WHEEL_DIR:-../shared/wheels ../../shared/wheels}"
WHEEL=""
for d in $DIRS; do
    WHEEL="$(ls "$d"/conda-*-py3-none-any.whl 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$WHEEL" ] && break
done
if [ -z "$WHEEL" ]; then
    echo "install-conda: no conda wheel in $DIRS; the tests in tests/conda will skip"
    exit 0
fi
if "$PY" -c "import conda, sys; sys.exit(0 if conda.__version__ in '$WHEEL' else 1)" 2>/dev/null; then
    exit 0
fi
"$PY" -m pip install -q --no-deps "$WHEEL"
"$PY" -m pip install -q archspec backports.zstd boltons charset-normalizer \
    conda-package-handling distro frozendict msgpack packaging platformdirs pluggy pycosat \
    requests 'ruamel.yaml<0.19' setuptools tqdm truststore
"$PY" -m conda --version
