#!/usr/bin/env bash
# The main job end to end, with no human and no outside network: start the embedded local
# identity provider, `anaconda auth login` (browser flow, with a stand-in browser), `whoami`,
# an authenticated BaseClient request, `logout`. Uses a throwaway HOME: your real login is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

[ -x .venv/bin/python ] || python3 -m venv .venv
# pip's notices go to a log, shown only when an install fails: the demo's output stays readable.
pip_log="$(mktemp)"
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel 2>"$pip_log" || { cat "$pip_log"; exit 1; }
.venv/bin/python -m pip install -q -e ".[testing]" 2>>"$pip_log" || { cat "$pip_log"; exit 1; }
rm -f "$pip_log"
export PATH="$root/.venv/bin:$PATH"

work="$(mktemp -d)"
export HOME="$work/home" OTEL_SDK_DISABLED=true
mkdir -p "$HOME"
cd "$HOME"
idp_pid=""
cleanup() { [ -n "$idp_pid" ] && kill "$idp_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Bold step headings on a terminal only: a log file or a pipe gets plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

echo "Starting the local identity provider (auto-approve mode)..."
anaconda-auth-idp --auto-approve --state-dir "$work/idp" --print-env "$work/idp.env" >"$work/idp.log" 2>&1 &
idp_pid=$!
for _ in $(seq 100); do [ -s "$work/idp.env" ] && break; sleep 0.1; done
[ -s "$work/idp.env" ] || { cat "$work/idp.log"; echo "the identity provider did not start"; exit 1; }
# shellcheck disable=SC1091
source "$work/idp.env"
# A stand-in browser that follows the login redirects, and a free port for the redirect server.
ca="$ANACONDA_AUTH_SSL_VERIFY"
export BROWSER="$root/.venv/bin/python -m anaconda_auth.plugins.testing.browser --ca $ca %s"
port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export ANACONDA_AUTH_REDIRECT_URI="http://127.0.0.1:$port/auth/oidc"
echo "domain: $ANACONDA_AUTH_DOMAIN  (CA: $ca)"

step anaconda auth login
anaconda auth login

step anaconda auth whoami
anaconda auth whoami

step "python: an authenticated request with BaseClient"
python - <<'PY'
from anaconda_auth.client import BaseClient

client = BaseClient()
response = client.get("/api/account")
response.raise_for_status()
print(f"GET {response.url} -> {response.status_code}; logged in as {client.email}")
PY

step anaconda auth logout
anaconda auth logout

step "anaconda auth api-key   (after logout: must fail with a clear message)"
if anaconda auth api-key </dev/null; then
    echo "unexpected: an API key is still stored"; exit 1
else
    echo "(exit code $? as expected)"
fi
echo
echo "Demo finished: login, whoami, authenticated request and logout all worked."
