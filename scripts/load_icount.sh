#!/usr/bin/env bash
# Server instructions per request over loopback, for each mode of examples/load_server.rs:
# the server runs under valgrind callgrind (pinned to CPU 0), wrk drives it for DURATION
# seconds (pinned to CPU 1), and
#
#   instructions/request = (Ir(run) - Ir(idle)) / (requests(run) - requests(idle))
#
# where the idle run answers the checking requests only and stops: start-up and shut-down
# cancel out. Each run is checked as scripts/load.sh checks it (status, body, `HIT` for the
# cached mode; no non-2xx answer during the run). Unlike requests/s these counts repeat run
# to run, and callgrind's profiles say where the instructions go:
#
#   scripts/load_icount.sh bare cached
#   callgrind_annotate --inclusive=yes target/load-icount/cached.run.out | head -60
#
# OUT, when set, gets one tab-separated line per mode: mode, Ir(idle), requests(idle),
# Ir(run), requests(run). scripts/benchmarks.sh runs it for BENCHMARKS.md.
# Needs: valgrind, wrk, curl, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/load_common.sh

DURATION=${DURATION:-8}
PORT=${PORT:-$(free_port 3918)}
OUT_DIR=${OUT_DIR:-${CARGO_TARGET_DIR:-target}/load-icount}
if [[ $# -gt 0 ]]; then MODES=("$@"); else MODES=("${ALL_MODES[@]}"); fi

need_wrk
[[ ${NO_BUILD:-} == 1 ]] || cargo build --release --features hyper --example load_server >&2
server_bin=${CARGO_TARGET_DIR:-target}/release/examples/load_server
mkdir -p "$OUT_DIR"
[[ -z ${OUT:-} ]] || : >"$OUT"

server=
cleanup() { [[ -n $server ]] && kill "$server" 2>/dev/null; true; }
trap cleanup EXIT

# Runs MODE under callgrind; with a duration, drives it with wrk. Prints "Ir requests".
# The checks before and after the run send the same requests in both runs, so they cancel.
profile() {
  local mode=$1 label=$2 seconds=$3
  local out="$OUT_DIR/$mode.$label.out" requests
  port_free "$PORT"
  taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$server_bin" "$mode" "$PORT" >/dev/null 2>"$out.log" &
  server=$!
  local url="http://127.0.0.1:$PORT$(path_of "$mode")"
  wait_for "$server" "$url" 300
  check_answer "$mode" "$url"
  if [[ $seconds -gt 0 ]]; then
    local report
    report=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" "$url")
    check_report "$mode" "$report"
    requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  else
    requests=0
  fi
  check_answer "$mode" "$url"
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  server=
  echo "$(awk '/^summary:/ { print $2 }' "$out") $requests"
}

printf '| mode | instructions/request | ÷ %s |\n|---|---|---|\n' "${MODES[0]}" >&2
base=
for mode in "${MODES[@]}"; do
  read -r idle_ir idle_n < <(profile "$mode" idle 0)
  read -r run_ir run_n < <(profile "$mode" run "$DURATION")
  [[ -z ${OUT:-} ]] || printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$idle_ir" "$idle_n" "$run_ir" "$run_n" >>"$OUT"
  per=$(((run_ir - idle_ir) / (run_n - idle_n)))
  [[ -z $base ]] && base=$per
  printf '| %s | %s | %s |\n' "$mode" "$per" "$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" >&2
done
