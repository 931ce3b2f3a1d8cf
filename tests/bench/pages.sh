#!/usr/bin/env bash
# Page-load benchmark: the portal against a 10k-company sandbox, measured with wrk.
# Usage: bash tests/bench/pages.sh [path/to/sync365]   (default: target/release/sync365)
# Needs wrk (Debian: apt-get install wrk) and curl. Only loopback traffic; bounded in time.
set -euo pipefail

BIN=${1:-target/release/sync365}
DURATION=${BENCH_DURATION:-15s}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PORT=$(free_port); APP_PORT=$(free_port)
SB="http://127.0.0.1:$SB_PORT"; APP="http://127.0.0.1:$APP_PORT"

"$BIN" sandbox --bind "127.0.0.1:$SB_PORT" --companies 10000 --agreements 300 --products 50 >"$WORK/sandbox.log" 2>&1 &

export SYNC365_DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc" SYNC365_DATA_DIR="$WORK" SYNC365_BIND="127.0.0.1:$APP_PORT"
export SYNC365_CONNECTWISE_CLIENT_ID=sync365-sandbox-client-id SYNC365_CONNECTWISE_REGION_URLS="na=$SB,eu=$SB,aus=$SB"
export SYNC365_AUTOTASK_INTEGRATION_CODE=SYNC365SANDBOXCODE SYNC365_AUTOTASK_ZONE_LOOKUP_URL="$SB/atservicesrest/"
export SYNC365_AUTOTASK_ZONE_URL_TEMPLATE="$SB/{zone}/atservicesrest/" SYNC365_OUTBOUND_ALLOW_PRIVATE=true SYNC365_LOG=warn
echo 'benchmark password 365' | "$BIN" user create --tenant "Bench MSP" --email bench@example.test --role admin >/dev/null
"$BIN" serve >"$WORK/portal.log" 2>&1 &
for _ in $(seq 1 100); do curl -fs "$APP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

JAR="$WORK/cookies"
token() { curl -fs -b "$JAR" -c "$JAR" "$APP$1" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
curl -fs -o /dev/null -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token /login)" \
    --data-urlencode email=bench@example.test --data-urlencode 'password=benchmark password 365' "$APP/login"
NEW="/tools/integrations/psa/new?psa_type=connectwise"
LOC=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token "$NEW")" \
    -d psa_type=connectwise -d company_id=sandbox -d site=na -d public_key=FullAccessPub001 \
    -d private_key=FullAccessPriv01 -d action=save "$APP/tools/integrations/psa")
START=$(date +%s)
until curl -fs -b "$JAR" "$LOC/status.json" | grep -q '"state":"succeeded"'; do
    [ $(( $(date +%s) - START )) -lt 600 ] || { echo "retrieval did not finish"; exit 1; }
    sleep 1
done
echo "retrieval of 10k companies: $(( $(date +%s) - START )) s; $(curl -fs -b "$JAR" "$LOC/status.json")"

COOKIE="Cookie: $(awk '$6=="sync365_session"{print $6"="$7}' "$JAR")"
printf '\n| page | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- |\n'
for path in /login /tools/integrations /customers "/customers?q=Dental" /products; do
    out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$COOKIE" "$APP$path")
    rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/{print $5}' <<<"$out"); errors=${errors:-0}
    printf '| %s | %s | %s | %s | %s |\n' "$path" "$rps" "$p50" "$p99" "$errors"
done
