#!/usr/bin/env bash
# Page benchmark: the portal's main pages against a bare actix-web page showing the same rows from
# the same SQLite file (tests/bench/baseline.rs), measured with wrk in the same run, one after the
# other. The data comes from a real Test and Save against the sandbox.
# Usage: bash tests/bench/pages.sh [--quick] [SYNC365_BINARY [BASELINE_BINARY]]
#   defaults: target/release/sync365 and target/release/examples/bench_baseline
# Prints markdown rows prefixed "RESULT " (tests/bench/run.sh collects them); progress goes to
# standard error. Exits with 1 when a page request failed. Needs wrk, curl and python3; loopback
# only; bounded in time.
set -euo pipefail

QUICK=
if [ "${1:-}" = --quick ]; then QUICK=1; shift; fi
BIN=${1:-target/release/sync365}
BASELINE=${2:-target/release/examples/bench_baseline}
if [ -n "$QUICK" ]; then
    COMPANIES=1000 PRODUCTS=300 DURATION=${BENCH_DURATION:-2s}
else
    COMPANIES=10000 PRODUCTS=3000 DURATION=${BENCH_DURATION:-10s}
fi
AGREEMENTS=300
CONNECTIONS=${BENCH_CONNECTIONS:-50}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT

log() { printf '%s\n' "$*" >&2; }
short() { if [ "$1" -ge 1000 ]; then echo "$(( $1 / 1000 ))k"; else echo "$1"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; log "no answer from $1"; exit 1; }
# Peak resident memory of a process (VmHWM), and its reset to the current size (Linux).
peak_mib() { awk '/^VmHWM:/{printf "%d", ($2 + 1023) / 1024}' "/proc/$1/status"; }
reset_peak() { echo 5 >"/proc/$1/clear_refs"; }

SB_PORT=$(free_port); APP_PORT=$(free_port); BASE_PORT=$(free_port)
SB="http://127.0.0.1:$SB_PORT"; APP="http://127.0.0.1:$APP_PORT"; BASE="http://127.0.0.1:$BASE_PORT"
DB="sqlite://$WORK/bench.db?mode=rwc"

"$BIN" sandbox --bind "127.0.0.1:$SB_PORT" --companies "$COMPANIES" --agreements "$AGREEMENTS" \
    --products "$PRODUCTS" >"$WORK/sandbox.log" 2>&1 &
export SYNC365_DATABASE_URL="$DB" SYNC365_DATA_DIR="$WORK" SYNC365_BIND="127.0.0.1:$APP_PORT"
export SYNC365_CONNECTWISE_CLIENT_ID=sync365-sandbox-client-id SYNC365_CONNECTWISE_REGION_URLS="na=$SB,eu=$SB,aus=$SB"
export SYNC365_OUTBOUND_ALLOW_PRIVATE=true SYNC365_LOG=warn
echo 'benchmark password 365' | "$BIN" user create --tenant "Bench MSP" --email bench@example.test --role admin >/dev/null
"$BIN" serve >"$WORK/portal.log" 2>&1 &
PORTAL_PID=$!
wait_for "$APP/healthz"; wait_for "$SB/_sandbox/faults"

JAR="$WORK/cookies"
token() { curl -fs -b "$JAR" -c "$JAR" "$APP$1" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
curl -fs -o /dev/null -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token /login)" \
    --data-urlencode email=bench@example.test --data-urlencode 'password=benchmark password 365' "$APP/login"
curl -fs -X DELETE "$SB/_sandbox/requests" >/dev/null

log "pages: Test and Save of a ConnectWise connection, then its retrieval ($COMPANIES companies)"
STARTED=$(date +%s.%N)
NEW="/tools/integrations/psa/new?psa_type=connectwise"
LOC=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$JAR" -c "$JAR" --data-urlencode "csrf_token=$(token "$NEW")" \
    -d psa_type=connectwise -d company_id=sandbox -d site=na -d public_key=FullAccessPub001 \
    -d private_key=FullAccessPriv01 -d action=save "$APP/tools/integrations/psa")
[ -n "$LOC" ] || { log "Test and Save did not redirect; portal log: $WORK/portal.log"; exit 1; }
until curl -fs -b "$JAR" "$LOC/status.json" | grep -q '"state":"succeeded"'; do
    if curl -fs -b "$JAR" "$LOC/status.json" | grep -q '"state":"failed"'; then log "retrieval failed"; exit 1; fi
    awk -v s="$STARTED" -v n="$(date +%s.%N)" 'BEGIN{exit !(n - s > 600)}' && { log "retrieval did not finish"; exit 1; }
    sleep 0.2
done
TOOK=$(awk -v s="$STARTED" -v n="$(date +%s.%N)" 'BEGIN{printf "%.1f", n - s}')
REQUESTS=$(curl -fs "$SB/_sandbox/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
printf 'RESULT | Portal: Test and Save, then retrieval into SQLite (%s companies, %s agreements, %s products; 0 ms latency) | %s s | - | - | %s / - | portal %s MiB |\n' \
    "$(short "$COMPANIES")" "$(short "$AGREEMENTS")" "$(short "$PRODUCTS")" "$TOOK" "$REQUESTS" "$(peak_mib "$PORTAL_PID")"

"$BASELINE" "$DB" "127.0.0.1:$BASE_PORT" >"$WORK/baseline.log" 2>&1 &
BASELINE_PID=$!
wait_for "$BASE/connections"
COOKIE="Cookie: $(awk '$6=="sync365_session"{print $6"="$7}' "$JAR")"

# wrk's requests/s, p99 in ms, and failed requests (non-2xx, timeouts) of one page; the peak
# memory of the server while it served that page.
measure() {
    local pid=$1 url=$2 out
    reset_peak "$pid"
    out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$COOKIE" "$url")
    awk -v peak="$(peak_mib "$pid")" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v + 0 }
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad += $5 }
        /Socket errors/ { bad += $NF }
        END { printf "%.0f %.1f %d %d\n", rps, p99, bad, peak }' <<<"$out"
}

FAILED=0
for pair in "/tools/integrations /connections" "/customers /customers" \
    "/customers?q=Dental /customers?q=Dental" "/products /products"; do
    read -r page bare <<<"$pair"
    log "pages: $page against the bare $bare, $DURATION each"
    read -r rps p99 bad peak <<<"$(measure "$PORTAL_PID" "$APP$page")"
    read -r brps bp99 bbad bpeak <<<"$(measure "$BASELINE_PID" "$BASE$bare")"
    [ $((bad + bbad)) -eq 0 ] || FAILED=1
    awk -v page="$page" -v rps="$rps" -v p99="$p99" -v bad="$bad" -v peak="$peak" -v brps="$brps" \
        -v bp99="$bp99" -v bbad="$bbad" -v bpeak="$bpeak" -v c="$CONNECTIONS" 'BEGIN {
        failed = (bad + bbad > 0) ? sprintf(" (FAILED requests: %d portal, %d bare)", bad, bbad) : ""
        printf "RESULT | Page %s, wrk with %d connections%s | %d req/s, p99 %.0f ms | bare page: %d req/s, p99 %.0f ms | %.2f× req/s, %.1f× p99 | - | portal %d MiB, bare %d MiB |\n",
            page, c, failed, rps, p99, brps, bp99, rps / brps, p99 / bp99, peak, bpeak }'
done
exit "$FAILED"
