#!/usr/bin/env bash
# Instructions per request for each dispatch case, with valgrind's cachegrind.
#
#   scripts/icount.sh            # every case
#   scripts/icount.sh GET 405    # only these cases
#
# For each implementation and case, the `icount` bench binary runs N1 and N2 requests
# under `valgrind --tool=cachegrind --cache-sim=no`; the count per request is
# (I(N2) - I(N1)) / (N2 - N1), which cancels start-up and runtime set-up. The count of
# `request_only` (building and dropping the request) is subtracted to give the net count.
# Counts are deterministic to within a few instructions per request.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-2000}
N2=${N2:-12000}
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(GET HEAD OPTIONS 405)
impls=(route_handlers axum_method_router bare_service_fn)

command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }

bin=$(cargo bench --no-run --bench icount 2>&1 | sed -n 's/.*Executable .*(\(.*icount-[0-9a-f]*\)).*/\1/p' | tail -n 1)
[[ -x $bin ]] || { echo "could not find the icount bench binary" >&2; exit 1; }

# Total instructions of one run.
irefs() {
  local out
  out=$(mktemp)
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$1" "$2" 2>"$out" >/dev/null
  sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' "$out" | tr -d ,
  rm -f "$out"
}

per_request() {
  local a b
  a=$(irefs "$1" "$N1")
  b=$(irefs "$1" "$N2")
  echo $(( (b - a) / (N2 - N1) ))
}

base=$(per_request request_only/GET)
echo "request construction + drop: $base instructions (subtracted below)"
printf '%-8s %16s %20s %17s %10s %10s\n' case route_handlers axum_method_router bare_service_fn ours/bare ours/axum
for case in "${cases[@]}"; do
  declare -A net=()
  for impl in "${impls[@]}"; do
    net[$impl]=$(( $(per_request "$impl/$case") - base ))
  done
  ours=${net[route_handlers]} axum=${net[axum_method_router]} bare=${net[bare_service_fn]}
  printf '%-8s %16d %20d %17d %10s %10s\n' "$case" "$ours" "$axum" "$bare" \
    "$(awk -v a="$ours" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="$ours" -v b="$axum" 'BEGIN { printf "%.2f", a / b }')"
  unset net
done
