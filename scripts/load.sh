#!/usr/bin/env bash
# Loopback load benchmark: the same wrk settings against each server mode of
# examples/load_server.rs, pinned (server on CPU 0 with one tokio worker, wrk on CPU 1),
# interleaved over ROUNDS rounds, each run a WARMUP then a DURATION measurement.
#
# Each run is checked before it is measured (status 200; `x-route-cache: HIT` for the
# cached mode, before and after the measured run) and stops the script on any non-2xx
# answer or socket error. Writes one line per run to OUT (tab-separated: round, mode,
# requests, req/s, p50 µs, p99 µs, server CPU µs per request) and prints the summary table.
#
#   scripts/load.sh                       # every mode, 3 rounds of 2 s + 5 s
#   ROUNDS=5 DURATION=10 scripts/load.sh bare dynamic
#   OUT=results.tsv scripts/load.sh       # keep the raw per-run numbers
#
# scripts/benchmarks.sh runs it for BENCHMARKS.md. Needs: wrk (installed with apt-get when
# missing), curl, taskset (util-linux), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/load_common.sh

ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-50}
PORT=${PORT:-$(free_port 3917)}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-$(mktemp)}
if [[ $# -gt 0 ]]; then MODES=("$@"); else MODES=("${ALL_MODES[@]}"); fi

need_wrk
[[ ${NO_BUILD:-} == 1 ]] || cargo build --release --features hyper --example load_server >&2
server_bin=${CARGO_TARGET_DIR:-target}/release/examples/load_server

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wrk's latency figures to microseconds: 401.00us, 1.20ms, 1.01s.
to_us() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
    else print "nan" }'
}

server=
cleanup() { [[ -n $server ]] && kill "$server" 2>/dev/null; true; }
trap cleanup EXIT

hz=$(getconf CLK_TCK)
printf 'round\tmode\trequests\treq_per_s\tp50_us\tp99_us\tcpu_us_per_req\n' >"$OUT"
for round in $(seq 1 "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    port_free "$PORT"
    WORKERS=1 taskset -c "$SERVER_CPU" "$server_bin" "$mode" "$PORT" >/dev/null &
    server=$!
    url="http://127.0.0.1:$PORT$(path_of "$mode")"
    wait_for "$server" "$url" 100
    check_answer "$mode" "$url"
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
    before=$(cpu_ticks "$server")
    report=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
    after=$(cpu_ticks "$server")
    check_report "$mode" "$report"
    check_answer "$mode" "$url"
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=

    requests=$(awk '/requests in/ { print $1 }' <<<"$report")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$report")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$report")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$report")")
    cpu=$(awk -v d=$((after - before)) -v n="$requests" -v hz="$hz" \
      'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$requests" "$rps" "$p50" "$p99" "$cpu" >>"$OUT"
    printf 'round %s %-10s %10s req/s  p50 %7s us  p99 %7s us  %6s us CPU/req\n' \
      "$round" "$mode" "$rps" "$p50" "$p99" "$cpu" >&2
  done
done

echo "raw results: $OUT" >&2
python3 scripts/benchmarks.py load-table "$OUT"
