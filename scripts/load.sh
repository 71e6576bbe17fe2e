#!/usr/bin/env bash
# Loopback load benchmark: the same wrk settings against each server mode of
# examples/load_server.rs, pinned (server on CPU 0 with one tokio worker, wrk on CPU 1),
# interleaved over ROUNDS rounds, each run a WARMUP then a DURATION measurement.
#
# Reports, per mode, the median over rounds of requests/s, p50 and p99 latency, and server
# CPU time per request (utime+stime of the server process / requests), each also as a
# ratio to the bare hyper server.
#
#   scripts/load.sh                       # every mode, 3 rounds of 2 s + 5 s
#   ROUNDS=5 DURATION=10 scripts/load.sh bare dynamic
#   OUT=results.tsv scripts/load.sh       # keep the raw per-run numbers
#
# Needs: wrk (installed with apt-get when missing), taskset (util-linux), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-50}
PORT=${PORT:-3917}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-$(mktemp)}

if [[ $# -gt 0 ]]; then
  MODES=("$@")
else
  MODES=(bare axum dynamic cached table1000 axum1000)
fi

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    sudo apt-get install -y wrk >/dev/null
  fi
fi

cargo build --release --example load_server >&2
server_bin=target/release/examples/load_server

path_of() {
  case $1 in
    table1000 | axum1000) echo /r999/items/42 ;;
    *) echo /api/hello ;;
  esac
}

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
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "port $PORT is already in use; set PORT" >&2
      exit 1
    fi
    WORKERS=1 taskset -c "$SERVER_CPU" "$server_bin" "$mode" "$PORT" >/dev/null &
    server=$!
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
      kill -0 "$server" 2>/dev/null || { echo "$mode: the server exited" >&2; exit 1; }
      sleep 0.05
    done
    url="http://127.0.0.1:$PORT$(path_of "$mode")"
    status=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    if [[ $status != 200 ]]; then
      echo "$mode: $url answered $status" >&2
      exit 1
    fi
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
    before=$(cpu_ticks "$server")
    report=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
    after=$(cpu_ticks "$server")
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=

    if grep -qE 'Non-2xx|Socket errors' <<<"$report"; then
      echo "$mode: errors during the run:" >&2
      echo "$report" >&2
      exit 1
    fi
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
python3 - "$OUT" <<'EOF'
import csv, statistics, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
modes = list(dict.fromkeys(r["mode"] for r in rows))
base = "bare" if "bare" in modes else modes[0]
keys = ("req_per_s", "p50_us", "p99_us", "cpu_us_per_req")
runs = {(r["round"], r["mode"]): {k: float(r[k]) for k in keys} for r in rows}
rounds = sorted({r["round"] for r in rows}, key=int)

def median(mode, key):
    return statistics.median(runs[(n, mode)][key] for n in rounds)

def ratio(mode, key):
    # The median of the ratios within each round: the machine's speed drifts between
    # rounds, and a round runs every mode back to back.
    return statistics.median(runs[(n, mode)][key] / runs[(n, base)][key] for n in rounds)

print(f"{len(rounds)} rounds; values are medians over rounds; ratios are medians of the per-round ratios to {base}")
print()
print(f"| mode | req/s | p50 µs | p99 µs | server CPU µs/req | req/s ÷ {base} | p50 ÷ {base} | p99 ÷ {base} | CPU/req ÷ {base} |")
print("|---|---|---|---|---|---|---|---|---|")
for m in modes:
    rps, p50, p99, cpu = (median(m, k) for k in keys)
    r = [ratio(m, k) for k in keys]
    print(f"| {m} | {rps:,.0f} | {p50:.0f} | {p99:.0f} | {cpu:.2f} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} |")
EOF
