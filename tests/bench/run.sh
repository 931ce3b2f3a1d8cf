#!/usr/bin/env bash
# The benchmarks in one command: builds, runs the ConnectWise and Autotask retrieval benchmarks
# and the page benchmark, and prints one markdown table (standard output; progress goes to
# standard error).
# Usage: bash tests/bench/run.sh [--quick] [--debug]
#   --quick  small data sets and 2 s page runs: a smoke test, under a minute once built
#   --debug  the dev profile instead of release: quicker to build, slower to run
# Needs Linux (/proc), cargo, curl, python3 and wrk (installed with apt-get when missing and
# running as root). The full run takes about seven minutes on two cores once built.
set -euo pipefail
cd "$(dirname "$0")/../.."

QUICK=
PROFILE=release
ARGS=${*:+ $*}
for arg in "$@"; do
    case $arg in
        --quick) QUICK=--quick ;;
        --debug) PROFILE=dev ;;
        *) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    esac
done
OUT=${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = dev ] && echo debug || echo release)

step() { printf '\n==> %s\n' "$*" >&2; }

need_tools() {
    for tool in cargo curl python3; do
        command -v "$tool" >/dev/null || { echo "tests/bench/run.sh needs $tool" >&2; exit 1; }
    done
    [ -r /proc/self/status ] || { echo "tests/bench/run.sh needs Linux's /proc for peak memory" >&2; exit 1; }
    command -v wrk >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        step "installing wrk"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
    else
        echo "tests/bench/run.sh needs wrk: sudo apt-get install wrk (Debian, Ubuntu)" >&2
        exit 1
    fi
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# The date and machine the numbers belong to, as the README records them. A load average above
# the core count means other work shared the machine.
machine() {
    local cpu ram
    cpu=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
    ram=$(awk '/^MemTotal:/{printf "%.0f", $2 / 1048576}' /proc/meminfo)
    printf 'Measured %s with `bash tests/bench/run.sh%s` (%s build): %s cores (%s), %s GiB RAM; load average %s at the start, %s at the end.\n' \
        "$STARTED_AT" "$ARGS" "$PROFILE" "$(nproc)" "$cpu" "$ram" "$START_LOAD" "$(load)"
}

# Runs one retrieval benchmark, its output to standard error and its result rows to $ROWS; a
# failure becomes a row, so the other results are still printed. (`tee -a`: without append, tee
# would truncate a standard error redirected to a file.)
retrieval() {
    step "cargo bench --bench $1"
    if ! cargo bench --quiet --profile "$PROFILE" --bench "$1" -- $QUICK | tee -a /dev/stderr |
        sed -n 's/^RESULT //p' >>"$ROWS"; then
        echo "| $1 | FAILED, see its output | - | - | - | - |" >>"$ROWS"
        FAILED=1
    fi
}

need_tools
STARTED_AT=$(date -u '+%Y-%m-%d %H:%M UTC')
START_LOAD=$(load)
ROWS=$(mktemp)
trap 'rm -f "$ROWS"' EXIT

step "building ($PROFILE)"
cargo build --profile "$PROFILE" --bin sync365 --example bench_baseline >&2
cargo bench --profile "$PROFILE" --no-run --bench connectwise_retrieval --bench autotask_retrieval >&2

START=$(date +%s)
FAILED=0
retrieval connectwise_retrieval
retrieval autotask_retrieval
step "page benchmark"
bash tests/bench/pages.sh $QUICK "$OUT/sync365" "$OUT/examples/bench_baseline" |
    sed -n 's/^RESULT //p' >>"$ROWS" || {
    echo "| pages.sh | FAILED, see its output | - | - | - | - |" >>"$ROWS"
    FAILED=1
}

step "results (the benchmarks took $(( $(date +%s) - START )) s after the build)"
printf '\n%s\n\n' "$(machine)"
echo '| what | measured | reference | ratio | requests made / minimum | peak memory |'
echo '| --- | --- | --- | --- | --- | --- |'
cat "$ROWS"
exit "$FAILED"
