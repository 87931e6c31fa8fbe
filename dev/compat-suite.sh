#!/usr/bin/env bash
# The published anaconda-auth 0.15.3 test suite, run unchanged against this checkout.
#
#   dev/compat-suite.sh [--junit PATH] [--failures PATH] [-k EXPR] [--without-anaconda-client]
#                       [--against-release] [--keep] [-- PYTEST_ARGS...]
#
# Downloads the 0.15.3 sdist from PyPI at run time (never committed here), installs this
# checkout (non-editable) into a throwaway venv with the test dependencies the sdist declares
# (its "dev" extra, minus the tools that are not test dependencies) plus pyjwt, and runs the
# sdist's tests/ with pytest from the sdist's directory. The sdist's src/ is deleted before the
# run, so 0.15's code can never be imported. HOME is a temporary directory: the suite writes
# config.toml and keyring files.
#
#   --junit PATH     copy pytest's JUnit XML report to PATH
#   --failures PATH  write the failing node ids (failures, errors, collection errors) to PATH
#   -k EXPR          passed to pytest
#   --without-anaconda-client  do not install anaconda-client>=1.13.0 (installed by default: the
#                    sdist's environment-dev.yml lists it, and 26 cases of test_cli.py patch
#                    binstar_client, the legacy-option hand-off)
#   --against-release  install the published anaconda-auth 0.15.3 from PyPI instead of this
#                    checkout: the baseline (which cases fail here for reasons of the machine,
#                    e.g. no route to anaconda.com)
#   --keep           keep the temporary directory (its path is printed)
#   -- ARGS          further arguments for pytest
#
# Exit status: 0 when the suite ran (its own failures are expected and only reported), non-zero
# when the script itself failed: download, unpack, venv, install, or 0.15's code being imported.
set -euo pipefail

VERSION=0.15.3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

junit="" failures="" keep=0 with_client=1 release=0
pytest_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --junit) junit="$2"; shift 2 ;;
        --failures) failures="$2"; shift 2 ;;
        -k) pytest_extra+=(-k "$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        --with-anaconda-client) with_client=1; shift ;;  # the default; kept for old scripts
        --without-anaconda-client) with_client=0; shift ;;
        --against-release) release=1; shift ;;
        --) shift; pytest_extra+=("$@"); break ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "compat-suite: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
# Paths given relative to where the script was started.
[ -z "$junit" ] || junit="$(cd "$(dirname "$junit")" && pwd)/$(basename "$junit")"
[ -z "$failures" ] || failures="$(cd "$(dirname "$failures")" && pwd)/$(basename "$failures")"

work="$(mktemp -d "${TMPDIR:-/tmp}/compat-suite.XXXXXX")"
cleanup() { if [ "$keep" = 1 ]; then echo "compat-suite: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
die() { echo "compat-suite: $*" >&2; exit 1; }
log="$work/setup.log"
quiet() { "$@" >>"$log" 2>&1 || { tail -40 "$log" >&2; return 1; }; }
start=$SECONDS

# 1. The sdist, from PyPI.
echo "compat-suite: downloading the anaconda-auth $VERSION sdist"
quiet "$PYTHON" -m pip download --no-deps --no-binary :all: -d "$work/dl" "anaconda-auth==$VERSION" \
    || die "download of the anaconda-auth $VERSION sdist failed"
archive="$(find "$work/dl" -maxdepth 1 -name "anaconda_auth-$VERSION.tar.gz" -print -quit)"
[ -n "$archive" ] || die "no anaconda_auth-$VERSION.tar.gz among the downloaded files"
tar -xzf "$archive" -C "$work" || die "could not unpack $archive"
sdist="$work/anaconda_auth-$VERSION"
[ -d "$sdist/tests" ] || die "the sdist has no tests/ folder"
rm -rf "$sdist/src"  # its pytest config puts src/ on sys.path; 0.15's code must never load

# 2. A throwaway venv with this checkout (a copy of its tracked and new files, so a stale
#    build/ folder in the checkout cannot leak into the wheel) and the suite's test dependencies.
echo "compat-suite: installing this checkout and the suite's test dependencies into a throwaway venv"
"$PYTHON" -m venv "$work/venv" || die "could not create a venv"
py="$work/venv/bin/python"
quiet "$py" -m pip install --upgrade pip || die "could not upgrade pip in the venv"
mkdir "$work/checkout"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) \
    | (cd "$ROOT" && tar --null --ignore-failed-read -cf - -T - 2>/dev/null) \
    | tar -xf - -C "$work/checkout" || die "could not copy the checkout"
mapfile -t test_deps < <("$py" - "$sdist/pyproject.toml" <<'EOF'
import sys
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    extras = tomllib.load(f)["project"]["optional-dependencies"]
not_tests = {"mypy", "tox", "types-requests"}  # type checker and runners, not test dependencies
for req in extras["dev"]:
    name = req.split(";")[0].strip()
    if name.split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() not in not_tests:
        print(name)
EOF
) || die "could not read the test dependencies from the sdist's pyproject.toml"
[ "${#test_deps[@]}" -gt 0 ] || die "the sdist declares no test dependencies"
[ "$with_client" = 0 ] || test_deps+=("anaconda-client>=1.13.0")
# 0.15.3 depended on httpx for its async client; here it is the `async` extra.
target="$work/checkout[async]"
[ "$release" = 0 ] || target="anaconda-auth==$VERSION"
quiet "$py" -m pip install "$target" "${test_deps[@]}" pyjwt || die "install failed"
# Real conda (../shared/wheels; not on PyPI) un-skips the suite's four conda modules.
[ "$release" = 1 ] || PYTHON="$py" "$ROOT/dev/install-conda.sh" >>"$log" 2>&1 || true
echo "compat-suite: test dependencies: ${test_deps[*]} pyjwt"

# Empty HOME and no settings leaking in from the caller's environment.
home="$work/home"
mkdir -p "$home"
run_env=(env -i "PATH=$work/venv/bin:/usr/bin:/bin" "HOME=$home" "TMPDIR=$work"
         "LANG=C.UTF-8" "TERM=dumb" "COLUMNS=200" "XDG_CONFIG_HOME=$home/.config"
         "XDG_DATA_HOME=$home/.local/share" "XDG_CACHE_HOME=$home/.cache")

where="$(cd "$sdist" && "${run_env[@]}" "$py" -c 'import anaconda_auth; print(anaconda_auth.__file__)')" \
    || die "anaconda_auth does not import in the venv"
case "$where" in
    "$work/venv/"*) echo "compat-suite: anaconda_auth from $where" ;;
    *) die "anaconda_auth imports from $where, not from the throwaway venv" ;;
esac

# 3. The suite, unchanged. Its addopts (coverage reports, -vv, --durations) are replaced: they
#    only slow the run and write reports into the temporary directory. Its config predates
#    pytest-asyncio's warning about an unset asyncio_default_fixture_loop_scope, which its
#    "warnings are errors" rule turns into an internal error before any test runs: the scope is
#    set to pytest-asyncio's own future default. Everything else in its pytest config (warnings
#    as errors and their exceptions, markers) applies as published.
echo "compat-suite: running the $VERSION suite (setup took $((SECONDS - start)) s)"
report="$work/junit.xml"
set +e
(cd "$sdist" && "${run_env[@]}" "$py" -m pytest tests -o addopts= -o asyncio_default_fixture_loop_scope=function \
    -p no:cacheprovider \
    --continue-on-collection-errors -q -rfE --tb=line --junitxml="$report" \
    ${pytest_extra[@]+"${pytest_extra[@]}"}) >"$work/pytest.log" 2>&1
rc=$?
set -e
tail -n 60 "$work/pytest.log"

# 4. Summary.
summary="$("$py" - "$report" "$work/pytest.log" "${failures:-}" "$sdist" <<'EOF'
import os, sys
import xml.etree.ElementTree as ET

report, log, failures, sdist = sys.argv[1:5]
counts = dict(passed=0, failed=0, errors=0, skipped=0)
failing, not_collected, skipped_modules = [], [], []


def node_id(classname: str, name: str) -> str:
    """tests.test_x.TestY + test_z -> tests/test_x.py::TestY::test_z"""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut])
        if os.path.isfile(os.path.join(sdist, path + ".py")):
            return "::".join([path + ".py", *parts[cut:], name])
    return f"{classname}::{name}"


if os.path.exists(report):
    for case in ET.parse(report).iter("testcase"):
        kinds = {child.tag for child in case}
        if not case.get("classname"):  # a whole module: collection error or skipped module
            module = case.get("name", "").replace(".", "/")
            module += "" if os.path.isdir(os.path.join(sdist, module)) else ".py"
            (skipped_modules if kinds == {"skipped"} else not_collected).append(module)
            continue
        node = node_id(case.get("classname", ""), case.get("name", ""))
        if "failure" in kinds:
            counts["failed"] += 1
            failing.append(node)
        elif "error" in kinds:
            counts["errors"] += 1
            failing.append(node)
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
text = open(log, encoding="utf-8", errors="replace").read()
if "ImportError while loading conftest" in text:
    not_collected.append("tests/conftest.py (does not import: no case ran)")
if failures:
    with open(failures, "w", encoding="utf-8") as f:
        for node in failing + not_collected:
            f.write(node + "\n")
total = sum(counts.values())
print(
    f"{counts['passed']} of {total} cases passed, {counts['failed']} failed, "
    f"{counts['errors']} errors, {counts['skipped']} skipped; "
    f"{len(not_collected)} modules not collected, {len(skipped_modules)} skipped whole"
    + "".join(f"\n  not collected: {m}" for m in not_collected)
    + "".join(f"\n  skipped whole: {m}" for m in skipped_modules)
)
EOF
)" || die "could not read pytest's report"
echo
if [ "$release" = 1 ]; then against="the published anaconda-auth $VERSION"
else against="$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo this checkout)"; fi
echo "compat-suite: anaconda-auth $VERSION suite against $against:"
echo "compat-suite: $summary"
echo "compat-suite: pytest exit status $rc, $((SECONDS - start)) s in all"
if [ -n "$junit" ]; then
    if [ -f "$report" ]; then cp "$report" "$junit"; else : >"$junit"; fi
fi
[ -z "$failures" ] || echo "compat-suite: failing node ids in $failures"

case "$rc" in
    0|1|2|5) exit 0 ;;  # passed, failures, interrupted by collection errors, nothing collected
    3) echo "compat-suite: pytest reported an internal error (see above)" >&2; exit 0 ;;
    4) if grep -q "ImportError while loading conftest" "$work/pytest.log"; then exit 0; fi
       die "pytest usage error (see above)" ;;
    *) die "pytest ended with status $rc" ;;
esac
