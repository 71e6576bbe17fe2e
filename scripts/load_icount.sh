#!/usr/bin/env bash
# Server instructions per request over loopback, for each mode of examples/load_server.rs:
# the server runs under valgrind callgrind, wrk drives it for DURATION seconds, and
#
#   instructions/request = (Ir(run) - Ir(idle)) / (requests(run) - requests(idle))
#
# where the idle run answers one request and stops: start-up and shut-down cancel out.
# Unlike requests/s these counts repeat run to run, and callgrind's profiles say where the
# instructions go:
#
#   scripts/load_icount.sh bare cached
#   callgrind_annotate --inclusive=yes target/load-icount/cached.run.out | head -60
#
# Needs: valgrind, wrk, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
PORT=${PORT:-3918}
OUT_DIR=${OUT_DIR:-target/load-icount}
if [[ $# -gt 0 ]]; then MODES=("$@"); else MODES=(bare axum dynamic cached table1000 axum1000); fi

cargo build --release --example load_server >&2
mkdir -p "$OUT_DIR"

path_of() {
  case $1 in
    table1000 | axum1000) echo /r999/items/42 ;;
    *) echo /api/hello ;;
  esac
}

# Runs MODE under callgrind; with a duration, drives it with wrk. Prints "Ir requests".
profile() {
  local mode=$1 label=$2 seconds=$3
  local out="$OUT_DIR/$mode.$label.out" server requests=1
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    target/release/examples/load_server "$mode" "$PORT" >/dev/null 2>"$out.log" &
  server=$!
  local url="http://127.0.0.1:$PORT$(path_of "$mode")"
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$url" && break
    sleep 0.1
  done
  if [[ $seconds -gt 0 ]]; then
    local report
    report=$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" "$url")
    requests=$(($(awk '/requests in/ { print $1 }' <<<"$report") + 1))
  fi
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  echo "$(awk '/^summary:/ { print $2 }' "$out") $requests"
}

printf '| mode | instructions/request | ÷ bare |\n|---|---|---|\n'
base=
for mode in "${MODES[@]}"; do
  read -r idle_ir idle_n < <(profile "$mode" idle 0)
  read -r run_ir run_n < <(profile "$mode" run "$DURATION")
  per=$(((run_ir - idle_ir) / (run_n - idle_n)))
  [[ -z $base ]] && base=$per
  printf '| %s | %s | %s |\n' "$mode" "$per" "$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
done
