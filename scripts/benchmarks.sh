#!/usr/bin/env bash
# Regenerates every table of BENCHMARKS.md from the current commit, in one run:
#
#   scripts/benchmarks.sh            # the full run (about 20 minutes on the 2-core machine)
#   QUICK=1 scripts/benchmarks.sh    # fewer rounds, shorter runs: a check that all of it works
#
# 1. builds the bench binaries and the examples (release);
# 2. instructions (valgrind cachegrind, two jobs at a time: counts do not depend on load):
#    dispatch (benches/icount.rs), the route table (benches/routes.rs), cache hits and their
#    floors (benches/cache_icount.rs), each (I(N2) - I(N1)) / (N2 - N1); callgrind profiles
#    of a hit through the table and of its floor;
# 3. time (criterion, pinned to CPU 1, nothing else of this script running): ROUNDS rounds,
#    each running benches/dispatch.rs, benches/cache.rs, benches/routes.rs and
#    benches/helpers.rs back to back;
# 4. end to end over loopback: scripts/load.sh (req/s, latency, server CPU, pinned) and
#    scripts/load_icount.sh (server instructions per request under callgrind);
# 5. memory: examples/cache_memory.rs, fill and flood;
# 6. Redis (benches/redis.rs): a RedisStore's memory-tier hit, Redis hit and the handler per
#    request against a MemoryStore hit (criterion), and wrk against one instance over a
#    MemoryStore, one over Redis and two sharing it;
# 7. writes BENCHMARKS.md from scripts/benchmarks/template.md with scripts/benchmarks.py.
#
# Every bench and icount binary checks the answers it measures before it measures them.
# Raw results stay in RESULTS (default target/benchmarks/<commit>). Knobs: ROUNDS,
# LOAD_ROUNDS, WARMUP/MEASURE (criterion seconds), N1/N2, LOAD_WARMUP/LOAD_DURATION,
# ICOUNT_DURATION, MEM_IDS, FLOOD_IDS, FLOOD_MIB, OUTPUT (default BENCHMARKS.md).
#
# Needs: valgrind, wrk and redis-server (installed with apt-get when missing), curl, taskset,
# python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
started=$(date +%s)

if [[ ${QUICK:-} == 1 ]]; then
  : "${ROUNDS:=1}" "${LOAD_ROUNDS:=1}" "${WARMUP:=0.3}" "${MEASURE:=0.7}" "${SAMPLES:=20}"
  : "${N1:=200}" "${N2:=1200}" "${LOAD_WARMUP:=1}" "${LOAD_DURATION:=2}" "${ICOUNT_DURATION:=3}"
  : "${MEM_IDS:=100000}" "${FLOOD_IDS:=100000}"
else
  : "${ROUNDS:=3}" "${LOAD_ROUNDS:=5}" "${WARMUP:=1}" "${MEASURE:=2}" "${SAMPLES:=100}"
  : "${N1:=2000}" "${N2:=12000}" "${LOAD_WARMUP:=2}" "${LOAD_DURATION:=5}" "${ICOUNT_DURATION:=8}"
  : "${MEM_IDS:=100000}" "${FLOOD_IDS:=200000}"
fi
: "${FLOOD_MIB:=16}" "${OUTPUT:=BENCHMARKS.md}"

for tool in valgrind curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
source scripts/load_common.sh
need_wrk

# The commit measured; "+dirty" when the tree differs from it (BENCHMARKS.md aside, which
# this script writes).
commit=$(git rev-parse --short HEAD)
[[ -z $(git status --porcelain -- . ':(exclude)BENCHMARKS.md') ]] || commit+="+dirty"
RESULTS=${RESULTS:-$CARGO_TARGET_DIR/benchmarks/$commit}
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
log() { printf '[%4ds] %s\n' $(($(date +%s) - started)) "$*" >&2; }

# 1. Build.
log "building (release): bench binaries, load_server, cache_memory"
cargo bench --no-run --message-format=json 2>"$RESULTS/build.log" |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])' >"$RESULTS/binaries.txt" ||
  { cat "$RESULTS/build.log" >&2; exit 1; }
cargo build --release --features hyper --example load_server --example cache_memory 2>>"$RESULTS/build.log" ||
  { cat "$RESULTS/build.log" >&2; exit 1; }
bin() { awk -v n="$1" '$1 == n { print $2 }' "$RESULTS/binaries.txt"; }
for b in icount routes cache_icount dispatch cache helpers; do
  [[ -x $(bin $b) ]] || { echo "no bench binary $b" >&2; exit 1; }
done

{
  echo "commit	$commit"
  echo "rustc	$(rustc --version)"
  echo "valgrind	$(valgrind --version)"
  echo "wrk	$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
  echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu	$(nproc) × $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "load_start	$(cut -d ' ' -f 1-3 /proc/loadavg)"
  echo "quick	${QUICK:-0}"
  for k in ROUNDS LOAD_ROUNDS WARMUP MEASURE SAMPLES N1 N2 LOAD_WARMUP LOAD_DURATION \
    ICOUNT_DURATION MEM_IDS FLOOD_IDS FLOOD_MIB; do
    echo "$k	${!k}"
  done
} >"$RESULTS/meta.tsv"

# 2. Instructions: jobs "KEY<TAB>ENV<TAB>BINARY ARGS" (ARGS may hold {N}), two at a time.
jobs=$RESULTS/icount.jobs
: >"$jobs"
for case in GET HEAD OPTIONS 405; do
  for imp in route_handlers axum_method_router bare_service_fn request_only; do
    printf 'dispatch/%s/%s\t-\t%s %s/%s {N}\n' "$imp" "$case" "$(bin icount)" "$imp" "$case" >>"$jobs"
  done
done
for n in 10 1000 10000; do
  for case in table-dispatch axum-dispatch table-req-only axum-req-only table-lookup matchit-lookup; do
    for kind in static dynamic; do
      printf 'routes/%s/%s/%s\tROUTES_ICOUNT=%s-%s:%s:{N}\t%s\n' "$case" "$kind" "$n" "$case" "$kind" "$n" "$(bin routes)" >>"$jobs"
    done
  done
done
for v in setup floor/bare floor/headers floor/call floor/oneshot floor/type_only_call \
  floor/type_only_oneshot hit/route hit/route_unlisted_path hit/table_call hit/table_oneshot \
  hit/layer handler/uncached_route; do
  printf 'cache/%s\t-\t%s %s {N}\n' "$v" "$(bin cache_icount)" "$v" >>"$jobs"
done

# One job: "KEY N1 IR1 N2 IR2", or the failing run's output and exit 1.
count_job() {
  local key=$1 env=$2 cmd=$3 n e out ir line=$1
  for n in "$N1" "$N2"; do
    out=$(mktemp)
    e=${env//\{N\}/$n}
    [[ $e != - ]] || e=
    if ! env $e valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      ${cmd//\{N\}/$n} >/dev/null 2>"$out"; then
      echo "$key: the measured run failed:" >&2
      cat "$out" >&2
      rm -f "$out"
      return 1
    fi
    ir=$(sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' "$out" | tr -d ,)
    rm -f "$out"
    line+=" $n $ir"
  done
  echo "$line"
}
export -f count_job
export N1 N2
log "instructions: $(wc -l <"$jobs") cases × 2 runs under cachegrind (N1=$N1, N2=$N2)"
tr '\t' '\n' <"$jobs" | xargs -d '\n' -n 3 -P 2 bash -c 'count_job "$@"' _ >"$RESULTS/icount.txt"
[[ $(wc -l <"$RESULTS/icount.txt") -eq $(wc -l <"$jobs") ]] || { echo "instruction counts incomplete" >&2; exit 1; }

# Where a hit's instructions go: callgrind profiles of a hit through the table, of its floor
# and of building the request alone, at N1 and N2 iterations.
mkdir -p "$RESULTS/profile"
log "profiles: setup, hit/table_call and floor/call under callgrind"
for v in setup hit/table_call floor/call; do
  for n in "$N1" "$N2"; do
    valgrind --tool=callgrind --callgrind-out-file="$RESULTS/profile/${v//\//_}.$n.out" \
      "$(bin cache_icount)" "$v" "$n" >/dev/null 2>"$RESULTS/profile/${v//\//_}.$n.log" ||
      { cat "$RESULTS/profile/${v//\//_}.$n.log" >&2; exit 1; }
  done
done

# 3. Time, pinned to CPU 1.
crit_args=(--bench --warm-up-time "$WARMUP" --measurement-time "$MEASURE" --sample-size "$SAMPLES" --noplot)
for round in $(seq 1 "$ROUNDS"); do
  for b in dispatch cache routes helpers; do
    log "time: round $round of $ROUNDS, $b"
    CRITERION_HOME=$RESULTS/criterion/$round taskset -c 1 "$(bin $b)" "${crit_args[@]}" \
      >"$RESULTS/criterion-$b-$round.log" 2>&1 ||
      { tail -n 30 "$RESULTS/criterion-$b-$round.log" >&2; exit 1; }
  done
done

# 4. End to end.
log "load: $LOAD_ROUNDS rounds of ${LOAD_WARMUP} s + ${LOAD_DURATION} s per mode"
NO_BUILD=1 ROUNDS=$LOAD_ROUNDS WARMUP=$LOAD_WARMUP DURATION=$LOAD_DURATION OUT=$RESULTS/load.tsv \
  scripts/load.sh >"$RESULTS/load.log" 2>&1 || { tail -n 30 "$RESULTS/load.log" >&2; exit 1; }
log "load instructions: ${ICOUNT_DURATION} s per mode under callgrind"
NO_BUILD=1 DURATION=$ICOUNT_DURATION OUT=$RESULTS/load_icount.tsv OUT_DIR=$RESULTS/load-icount \
  scripts/load_icount.sh >"$RESULTS/load_icount.log" 2>&1 || { tail -n 30 "$RESULTS/load_icount.log" >&2; exit 1; }

# 5. Memory.
mem=$CARGO_TARGET_DIR/release/examples/cache_memory
log "memory: fill $MEM_IDS"
"$mem" fill "$MEM_IDS" >"$RESULTS/memory-fill.txt"
log "memory: flood $FLOOD_IDS through $FLOOD_MIB MiB"
"$mem" flood "$FLOOD_IDS" "$FLOOD_MIB" >"$RESULTS/memory-flood.txt"

# 6. Redis: the tiers of a RedisStore per request (criterion, pinned to CPU 1, Redis on CPU 0),
# and wrk against one instance over a MemoryStore, one over Redis and two over one Redis.
command -v redis-server >/dev/null || { echo "installing redis-server" >&2; apt-get install -y redis-server >/dev/null; }
log "redis: building the redis bench"
cargo bench --no-run --features redis --bench redis --message-format=json 2>>"$RESULTS/build.log" |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "redis":
        print(m["executable"])' >"$RESULTS/redis-binary.txt" || { cat "$RESULTS/build.log" >&2; exit 1; }
redis_bench=$(cat "$RESULTS/redis-binary.txt")
redis_port=$(free_port 6390)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"$RESULTS/redis-server.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done
export REDIS_URL=redis://127.0.0.1:$redis_port/
for round in $(seq 1 "$ROUNDS"); do
  log "redis: time, round $round of $ROUNDS"
  CRITERION_HOME=$RESULTS/criterion-redis/$round taskset -c 1 "$redis_bench" "${crit_args[@]}" \
    >"$RESULTS/criterion-redis-$round.log" 2>&1 ||
    { tail -n 30 "$RESULTS/criterion-redis-$round.log" >&2; exit 1; }
done
cat >"$RESULTS/redis-paths.lua" <<'LUA'
-- 20,000 ids of 1 KiB: far more than a 2 MiB memory tier holds, so most hits read Redis.
math.randomseed(42)
request = function() return wrk.format("GET", "/item/" .. math.random(1, 20000)) end
done = function(summary, latency, requests)
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
LUA
printf 'round\tmode\treq_per_s\n' >"$RESULTS/redis-load.tsv"
for round in $(seq 1 "$LOAD_ROUNDS"); do
  for mode in memory 1 2; do
    port=$(free_port 4300)
    "$redis_bench" serve "$mode" "$port" >"$RESULTS/redis-serve.log" 2>"$RESULTS/redis-serve.err" &
    serve_pid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    instances=$([[ $mode == memory ]] && echo 1 || echo "$mode")
    total=0
    for phase in warmup measure; do
      d=$([[ $phase == warmup ]] && echo "$LOAD_WARMUP" || echo "$LOAD_DURATION")
      pids=()
      for i in $(seq 0 $((instances - 1))); do
        wrk -t1 -c$((32 / instances)) -d"${d}s" -s "$RESULTS/redis-paths.lua" "http://127.0.0.1:$((port + i))/" \
          >"$RESULTS/redis-wrk-$i.txt" 2>&1 &
        pids+=($!)
      done
      wait "${pids[@]}"
    done
    for i in $(seq 0 $((instances - 1))); do
      grep -q '^non2xx 0$' "$RESULTS/redis-wrk-$i.txt" || { cat "$RESULTS/redis-wrk-$i.txt" >&2; echo "redis load: failed requests" >&2; exit 1; }
      rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$RESULTS/redis-wrk-$i.txt")
      total=$(python3 -c "print($total + $rps)")
    done
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
    printf '%s\t%s\t%s\n' "$round" "$mode" "$total" >>"$RESULTS/redis-load.tsv"
    log "redis: load round $round, $mode instance(s): $total req/s"
  done
done
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
trap - EXIT

# 7. BENCHMARKS.md.
{
  echo "load_end	$(cut -d ' ' -f 1-3 /proc/loadavg)"
  echo "seconds	$(($(date +%s) - started))"
} >>"$RESULTS/meta.tsv"
python3 scripts/benchmarks.py render "$RESULTS" scripts/benchmarks/template.md >"$RESULTS/BENCHMARKS.md"
cp "$RESULTS/BENCHMARKS.md" "$OUTPUT"
log "wrote $OUTPUT (raw results in $RESULTS)"
python3 scripts/benchmarks.py goals "$RESULTS"
