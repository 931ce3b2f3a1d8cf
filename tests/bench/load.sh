#!/usr/bin/env bash
# Load test: 200 concurrent signed-in connections browsing while a 10k-company retrieval runs and
# other users sign in (Argon2 on every attempt). Prints wrk's latency for the pages and for a
# public page measured during the sign-in storm, and the sign-in outcomes.
# Usage: bash tests/bench/load.sh [path/to/sync365]   (default: target/release/sync365)
# Needs wrk and curl; loopback only; bounded (LOAD_DURATION, default 20s).
set -euo pipefail

BIN=${1:-target/release/sync365}
DURATION=${LOAD_DURATION:-20s}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PORT=$(free_port); APP_PORT=$(free_port)
SB="http://127.0.0.1:$SB_PORT"; APP="http://127.0.0.1:$APP_PORT"
"$BIN" sandbox --bind "127.0.0.1:$SB_PORT" --companies 10000 --agreements 2000 --products 200 --latency-ms 5 >"$WORK/sandbox.log" 2>&1 &

export SYNC365_DATABASE_URL="sqlite://$WORK/load.db?mode=rwc" SYNC365_DATA_DIR="$WORK" SYNC365_BIND="127.0.0.1:$APP_PORT"
export SYNC365_CONNECTWISE_CLIENT_ID=sync365-sandbox-client-id SYNC365_CONNECTWISE_REGION_URLS="na=$SB,eu=$SB,aus=$SB"
export SYNC365_AUTOTASK_INTEGRATION_CODE=SYNC365SANDBOXCODE SYNC365_AUTOTASK_ZONE_LOOKUP_URL="$SB/atservicesrest/"
export SYNC365_AUTOTASK_ZONE_URL_TEMPLATE="$SB/{zone}/atservicesrest/" SYNC365_OUTBOUND_ALLOW_PRIVATE=true SYNC365_LOG=warn
for i in $(seq 1 20); do
    echo 'load test password 365' | "$BIN" user create --tenant "Load MSP" --email "user$i@example.test" --role admin >/dev/null
done
"$BIN" serve >"$WORK/portal.log" 2>&1 &
for _ in $(seq 1 100); do curl -fs "$APP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

JAR="$WORK/cookies"
token() { curl -fs -b "$1" -c "$1" "$APP$2" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
sign_in() { # jar email -> HTTP status
    curl -s -o /dev/null -w '%{http_code}' -b "$1" -c "$1" --data-urlencode "csrf_token=$(token "$1" /login)" \
        --data-urlencode "email=$2" --data-urlencode 'password=load test password 365' "$APP/login"
}
sign_in "$JAR" user1@example.test >/dev/null
NEW="/tools/integrations/psa/new?psa_type=connectwise"
LOC=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token "$JAR" "$NEW")" \
    -d psa_type=connectwise -d company_id=sandbox -d site=na -d public_key=FullAccessPub001 \
    -d private_key=FullAccessPriv01 -d action=save "$APP/tools/integrations/psa")
COOKIE="Cookie: $(awk '$6=="sync365_session"{print $6"="$7}' "$JAR")"

# Sign-ins in the background for the whole run: 19 users, one after another, in 4 lanes.
: >"$WORK/signins"
LANES=()
for lane in 1 2 3 4; do
    ( end=$((SECONDS + 2 * ${DURATION%s})); while [ $SECONDS -lt $end ]; do
        n=$(( (RANDOM % 19) + 2 )); j="$WORK/jar-$lane"; rm -f "$j"
        sign_in "$j" "user$n@example.test" >>"$WORK/signins"; echo >>"$WORK/signins"
      done ) &
    LANES+=($!)
done

report() { # label wrk-output
    awk -v label="$1" '/Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2} /Non-2xx/{err=$5}
        /Socket errors/{sock=$0} END{printf "| %s | %s | %s | %s | %s |\n", label, rps, p50, p99, (err==""?0:err)}' <<<"$2"
}
printf '| load (200 connections, %s, retrieval and sign-ins running) | requests/s | p50 | p99 | non-2xx |\n| --- | --- | --- | --- | --- |\n' "$DURATION"
out_c=$(wrk -t2 -c200 -d"$DURATION" --latency -H "$COOKIE" "$APP/customers")
report "/customers" "$out_c"
out_i=$(wrk -t2 -c200 -d"$DURATION" --latency -H "$COOKIE" "$APP/tools/integrations")
report "/tools/integrations" "$out_i"
wait "${LANES[@]}" 2>/dev/null || true
ok=$(grep -c '^303$' "$WORK/signins" || true); total=$(grep -c . "$WORK/signins" || true)
echo
echo "sign-ins during the run: $ok of $total succeeded (others: $(grep -v '^303$' "$WORK/signins" | sort | uniq -c | tr '\n' ' '))"
echo "retrieval: $(curl -fs -b "$JAR" "$LOC/status.json")"
