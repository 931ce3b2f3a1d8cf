#!/usr/bin/env bash
# Fidelity checks: real third-party PSA clients against the Sync 365 PSA sandbox.
#
#   tests/fidelity/run.sh SANDBOX_BINARY        (from the repo root, after `cargo build`)
#
# Creates a throwaway Python venv and npm project in a temp dir, installs the pinned clients
# (requirements.txt, autotask-node/package-lock.json), then for each check starts the sandbox on a
# free loopback port over https (its own CA, written with --ca-out), runs the check with a time
# limit, and stops that sandbox. Prints one summary line per check and, last, `N passed, N failed`.
# Exits non-zero when any check failed. Only loopback traffic, apart from the package installs.
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 SANDBOX_BINARY" >&2
  exit 2
fi
BIN=$(realpath -e "$1") || { echo "fidelity: sandbox binary $1 not found" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SWAGGER="${FIDELITY_SWAGGER:-$REPO/../shared/reference/autotask/v1.json}"
CHECK_TIMEOUT="${FIDELITY_CHECK_TIMEOUT:-300}"
# Where the sandbox serves each vendor (paths on its one https port): ConnectWise at the root
# (/login/companyinfo/..., /{codebase}/apis/3.0/...), Autotask zone discovery at /ATServicesRest/.
CW_PREFIX="${FIDELITY_CW_PREFIX:-}"                 # appended to host:port for pyconnectwise's manage_url
AT_LOOKUP_PATH="${FIDELITY_AT_LOOKUP_PATH:-/ATServicesRest/}"
INSTALL_TIMEOUT="${FIDELITY_INSTALL_TIMEOUT:-600}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sync365-fidelity.XXXXXX")
T_START=$SECONDS

PASSED=0
FAILED=0
SUMMARY=()
SANDBOX_PID=""

cleanup() {
  stop_sandbox
  if [[ -n "${FIDELITY_KEEP:-}" ]]; then
    echo "fidelity: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { # record NAME pass|fail DETAIL
  local line
  if [[ $2 == pass ]]; then
    PASSED=$((PASSED + 1)); line="PASS  $1  $3"
  else
    FAILED=$((FAILED + 1)); line="FAIL  $1  $3"
  fi
  SUMMARY+=("$line")
  echo "== $line"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_sandbox NAME [extra sandbox args...]: sets PORT, CA_FILE, SB_LOG; returns 1 on failure.
start_sandbox() {
  local name=$1; shift
  local dir="$WORK/sandbox-$name"
  mkdir -p "$dir/ca"
  PORT=$(free_port)
  SB_LOG="$dir/sandbox.log"
  "$BIN" sandbox --bind "127.0.0.1:$PORT" --https --ca-out "$dir/ca" "$@" >"$SB_LOG" 2>&1 &
  SANDBOX_PID=$!
  local waited=0
  CA_FILE=""
  while (( waited < 300 )); do # 30 s
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
      echo "fidelity: the sandbox exited early; its output:" >&2
      sed 's/^/  | /' "$SB_LOG" >&2
      SANDBOX_PID=""
      return 1
    fi
    if [[ -z $CA_FILE ]]; then
      CA_FILE=$(find_ca "$dir/ca")
    fi
    if [[ -n $CA_FILE ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "fidelity: sandbox '$name' up on https://127.0.0.1:$PORT (CA $CA_FILE) with: $*"
      sed 's/^/  | /' "$SB_LOG" | head -40
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "fidelity: the sandbox did not listen on 127.0.0.1:$PORT with a CA in $dir/ca within 30 s; output:" >&2
  sed 's/^/  | /' "$SB_LOG" >&2
  stop_sandbox
  return 1
}

find_ca() { # the PEM certificate the sandbox wrote: prefer names with "ca", skip keys
  local f
  for f in "$1"/*ca*.pem "$1"/*ca*.crt "$1"/*.pem "$1"/*.crt; do
    [[ -f $f ]] || continue
    [[ $f == *key* ]] && continue
    grep -q "BEGIN CERTIFICATE" "$f" 2>/dev/null && { echo "$f"; return; }
  done
}

stop_sandbox() {
  if [[ -n "${SANDBOX_PID:-}" ]]; then
    kill "$SANDBOX_PID" 2>/dev/null
    local i
    for i in $(seq 50); do kill -0 "$SANDBOX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SANDBOX_PID" 2>/dev/null
    wait "$SANDBOX_PID" 2>/dev/null
    SANDBOX_PID=""
  fi
}

run_check() { # run_check NAME COMMAND...: runs with a time limit, records the outcome
  local name=$1; shift
  local t0=$SECONDS rc
  timeout --kill-after=10 "$CHECK_TIMEOUT" "$@" 2>&1 | tee "$WORK/$name.out"
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    record "$name" pass "(${took}s)"
  elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
    record "$name" fail "(${took}s) timed out after ${CHECK_TIMEOUT}s"
  else
    local why
    why=$(grep -m1 'FAIL:' "$WORK/$name.out" | sed 's/^ *FAIL: //' | cut -c1-200)
    record "$name" fail "(${took}s) exit $rc${why:+: $why}"
  fi
}

echo "fidelity: sandbox binary $BIN; work dir $WORK"

# --- environments ------------------------------------------------------------------------------
PY_OK=0
echo "fidelity: creating the Python venv (pinned: requirements.txt)"
if python3 -m venv "$WORK/venv" &&
   timeout "$INSTALL_TIMEOUT" "$WORK/venv/bin/pip" install -q --disable-pip-version-check \
     -r "$HERE/requirements.txt"; then
  PY_OK=1
fi
PY="$WORK/venv/bin/python"

NODE_OK=0
echo "fidelity: creating the npm project (pinned: autotask-node/package-lock.json)"
mkdir -p "$WORK/node"
cp "$HERE/autotask-node/package.json" "$HERE/autotask-node/package-lock.json" \
   "$HERE/autotask-node/check_autotask.js" "$WORK/node/"
if (cd "$WORK/node" && timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error); then
  NODE_OK=1
fi

# --- checks --------------------------------------------------------------------------------------

check_swagger_subset() {
  if [[ ! -f $SWAGGER ]]; then
    echo "fidelity: $SWAGGER not found (CI keeps shared/ beside the clone);" \
         "using the committed subset tests/fidelity/autotask-swagger-subset.json as is"
    record swagger-subset pass "(full Swagger absent: drift not checked)"
    return
  fi
  if python3 "$HERE/extract_swagger_subset.py" "$SWAGGER" >"$WORK/subset.json" &&
     cmp -s "$WORK/subset.json" "$HERE/autotask-swagger-subset.json"; then
    record swagger-subset pass "(committed subset matches $SWAGGER)"
  else
    record swagger-subset fail "autotask-swagger-subset.json differs from what extract_swagger_subset.py makes of $SWAGGER"
  fi
}

check_pyconnectwise() {
  if (( ! PY_OK )); then
    record pyconnectwise fail "venv or pip install failed"; record pyconnectwise-onprem fail "venv or pip install failed"; return
  fi
  # explicit sizes, so "what the sandbox seeded" is what we asked for (catalog items = --products)
  local companies=45 agreements=60 products=30
  if ! start_sandbox pyconnectwise --companies $companies --agreements $agreements --products $products; then
    record pyconnectwise fail "sandbox did not start"; return
  fi
  CW_HOST="127.0.0.1:$PORT$CW_PREFIX" \
  EXPECT_CW_COMPANIES=$companies EXPECT_CW_AGREEMENTS=$agreements EXPECT_CW_CATALOG=$products \
  CW_EXPECT_CODEBASE=v2025_1/ \
  REQUESTS_CA_BUNDLE="$CA_FILE" SSL_CERT_FILE="$CA_FILE" CHECK_TIMEOUT="$CHECK_TIMEOUT" \
    run_check pyconnectwise "$PY" "$HERE/check_pyconnectwise.py"
  # the on-premise login company (codebase v4_6_release/, IsCloud False) on the same sandbox
  CW_HOST="127.0.0.1:$PORT$CW_PREFIX" CW_COMPANY=sandboxonprem \
  CW_PUBLIC_KEY=OnPremPub0000001 CW_PRIVATE_KEY=OnPremPriv000001 CW_EXPECT_CODEBASE=v4_6_release/ \
  EXPECT_CW_COMPANIES=$companies EXPECT_CW_AGREEMENTS=$agreements EXPECT_CW_CATALOG=$products \
  REQUESTS_CA_BUNDLE="$CA_FILE" SSL_CERT_FILE="$CA_FILE" CHECK_TIMEOUT="$CHECK_TIMEOUT" \
    run_check pyconnectwise-onprem "$PY" "$HERE/check_pyconnectwise.py"
  stop_sandbox
}

check_autotask_client() {
  if (( ! NODE_OK )); then
    record autotask-restapi fail "npm ci failed"; record autotask-restapi-zone5 fail "npm ci failed"; return
  fi
  local companies=1200 # >= 3 pages of 500
  if ! start_sandbox autotask --companies $companies; then record autotask-restapi fail "sandbox did not start"; return; fi
  AT_ZONE_LOOKUP_BASE="https://127.0.0.1:$PORT$AT_LOOKUP_PATH" \
  EXPECT_AT_COMPANIES=$companies AT_MIN_PAGES=3 \
  NODE_EXTRA_CA_CERTS="$CA_FILE" CHECK_TIMEOUT="$CHECK_TIMEOUT" \
    run_check autotask-restapi node "$WORK/node/check_autotask.js"
  # a user whose tenant lives in another zone (webservices5): discovery must route the client there
  AT_ZONE_LOOKUP_BASE="https://127.0.0.1:$PORT$AT_LOOKUP_PATH" \
  AT_USER=sbxotherzone001@SANDBOX.EXAMPLE AT_SECRET='Zone5@Secret#03' AT_EXPECT_ZONE=webservices5 \
  EXPECT_AT_COMPANIES=$companies AT_MIN_PAGES=3 \
  NODE_EXTRA_CA_CERTS="$CA_FILE" CHECK_TIMEOUT="$CHECK_TIMEOUT" \
    run_check autotask-restapi-zone5 node "$WORK/node/check_autotask.js"
  stop_sandbox
}

check_autotask_swagger() {
  if (( ! PY_OK )); then record autotask-swagger fail "venv or pip install failed"; return; fi
  # 1200 companies so the envelope is validated on several pages, not only on a last page
  if ! start_sandbox swagger --companies 1200; then record autotask-swagger fail "sandbox did not start"; return; fi
  AT_ZONE_LOOKUP_BASE="https://127.0.0.1:$PORT$AT_LOOKUP_PATH" \
  SSL_CERT_FILE="$CA_FILE" CHECK_TIMEOUT="$CHECK_TIMEOUT" \
    run_check autotask-swagger "$PY" "$HERE/check_autotask_swagger.py"
  stop_sandbox
}

check_swagger_subset
check_pyconnectwise
check_autotask_client
check_autotask_swagger

echo
echo "fidelity summary ($((SECONDS - T_START))s):"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))
