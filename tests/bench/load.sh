#!/usr/bin/env bash
# Load test: 200 signed-in users (200 sessions) browse the main pages while a 10k-company
# retrieval runs; first alone, then while four lanes of other users sign in one after another
# (Argon2 on every attempt). Prints one table: page throughput and latency in both phases, the
# sign-ins' own outcomes and latency, and whether the retrieval was running throughout.
# Usage: bash tests/bench/load.sh [path/to/sync365]   (default: target/release/sync365)
# Needs wrk (installed with apt when missing) and curl; loopback only; bounded by
# LOAD_DURATION per phase (default 20s).
set -euo pipefail

BIN=${1:-target/release/sync365}
DURATION=${LOAD_DURATION:-20s}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if ! command -v wrk >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PORT=$(free_port); APP_PORT=$(free_port)
SB="http://127.0.0.1:$SB_PORT"; APP="http://127.0.0.1:$APP_PORT"
# 100 ms per sandbox answer keeps the retrieval going through both phases.
"$BIN" sandbox --bind "127.0.0.1:$SB_PORT" --companies 10000 --agreements 2000 --products 200 \
    --latency-ms 100 >"$WORK/sandbox.log" 2>&1 &

export SYNC365_DATABASE_URL="sqlite://$WORK/load.db?mode=rwc" SYNC365_DATA_DIR="$WORK" SYNC365_BIND="127.0.0.1:$APP_PORT"
export SYNC365_CONNECTWISE_CLIENT_ID=sync365-sandbox-client-id SYNC365_CONNECTWISE_REGION_URLS="na=$SB,eu=$SB,aus=$SB"
export SYNC365_AUTOTASK_INTEGRATION_CODE=SYNC365SANDBOXCODE SYNC365_AUTOTASK_ZONE_LOOKUP_URL="$SB/atservicesrest/"
export SYNC365_AUTOTASK_ZONE_URL_TEMPLATE="$SB/{zone}/atservicesrest/" SYNC365_OUTBOUND_ALLOW_PRIVATE=true SYNC365_LOG=warn
for i in $(seq 1 20); do
    echo 'load test password 365' | "$BIN" user create --tenant "Load MSP" --email "user$i@example.test" --role admin >/dev/null
done
"$BIN" serve >"$WORK/portal.log" 2>&1 &
for _ in $(seq 1 100); do curl -fs "$APP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

token() { curl -fs -b "$1" -c "$1" "$APP$2" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
sign_in() { # jar email -> "status seconds"
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -b "$1" -c "$1" --data-urlencode "csrf_token=$(token "$1" /login)" \
        --data-urlencode "email=$2" --data-urlencode 'password=load test password 365' "$APP/login"
}
session_of() { awk '$6=="sync365_session"{print "sync365_session="$7}' "$1"; }

# 200 sessions: each of the 20 users signed in from ten browsers.
BATCH=()
# Four at a time; `wait` names its jobs, or it would wait for the servers too.
for i in $(seq 1 200); do
    sign_in "$WORK/s$i" "user$(( (i - 1) % 20 + 1 ))@example.test" >/dev/null &
    BATCH+=($!)
    if (( i % 4 == 0 )); then wait "${BATCH[@]}"; BATCH=(); fi
done
for i in $(seq 1 200); do session_of "$WORK/s$i"; done >"$WORK/sessions"
[ "$(grep -c . "$WORK/sessions")" -eq 200 ] || { echo "only $(grep -c . "$WORK/sessions") of 200 sessions"; exit 1; }

NEW="/tools/integrations/psa/new?psa_type=connectwise"
JAR="$WORK/s1"
LOC=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token "$JAR" "$NEW")" \
    -d psa_type=connectwise -d company_id=sandbox -d site=na -d public_key=FullAccessPub001 \
    -d private_key=FullAccessPriv01 -d action=save "$APP/tools/integrations/psa")
run_state() { curl -fs -b "$JAR" "$LOC/status.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }

browse() { wrk -t2 -c200 -d"$DURATION" --latency -s "$HERE/browse.lua" "$APP" -- "$WORK/sessions"; }
row() { # label wrk-output retrieval-state
    awk -v label="$1" -v run="$3" '/Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2}
        /Non-2xx/{err=$5} /Socket errors/{sock=$4+$6+$8+$10}
        END{printf "| %s | %s | %s | %s | %d | %d | %s |\n", label, rps, p50, p99, err, sock, run}' <<<"$2"
}

printf '| 200 sessions browsing 5 pages (%s per phase) | requests/s | p50 | p99 | non-2xx | socket errors | retrieval at the end |\n' "$DURATION"
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
quiet=$(browse)
row "retrieval running" "$quiet" "$(run_state)"

# Four lanes of sign-ins, one after another, for the length of the second phase.
: >"$WORK/signins"
LANES=()
for lane in 1 2 3 4; do
    ( end=$((SECONDS + ${DURATION%s})); while [ $SECONDS -lt $end ]; do
        j="$WORK/lane-$lane"; rm -f "$j"
        sign_in "$j" "user$(( (RANDOM % 20) + 1 ))@example.test" >>"$WORK/signins"
      done ) &
    LANES+=($!)
done
busy=$(browse)
row "retrieval running, 4 lanes signing in" "$busy" "$(run_state)"
wait "${LANES[@]}" 2>/dev/null || true

echo
ok=$(grep -c '^303 ' "$WORK/signins" || true); total=$(grep -c . "$WORK/signins" || true)
others=$(grep -v '^303 ' "$WORK/signins" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ' || true)
latency=$(cut -d' ' -f2 "$WORK/signins" | sort -n | awk '{a[NR]=$1} END{printf "p50 %.0f ms, p99 %.0f ms", a[int(NR*0.5)+1]*1000, a[int(NR*0.99)+1]*1000}')
echo "sign-ins during phase 2: $ok of $total answered 303 (others: ${others:-none}); $latency"
echo "retrieval now: $(curl -fs -b "$JAR" "$LOC/status.json")"
errors=$(grep -c ' ERROR ' "$WORK/portal.log" || true)
echo "portal log: $errors error line(s)"
grep ' ERROR ' "$WORK/portal.log" | head -5 || true
