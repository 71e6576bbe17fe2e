#!/usr/bin/env bash
# Instructions per request of dispatch, the route table and cache hits, for the working
# tree and a base revision, in the same run:
#
#   scripts/icount_compare.sh 7b204a2      # base revision (default: HEAD~1)
#
# Builds the `icount`, `routes` and `cache_icount` bench binaries of both trees (the base
# in a temporary worktree with its own target directory), then counts with valgrind:
# cachegrind for dispatch and the route table ((I(12000) - I(2000)) / 10000, minus building
# the request), callgrind for the cache variants ((I(20000) - I(0)) / 20000). Counts repeat
# to a few instructions. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD~1}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }

benches=(--bench icount --bench routes --bench cache_icount)
cargo bench --no-run "${benches[@]}" >/dev/null 2>&1
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$wt" "$base" >/dev/null 2>&1
base_target=${BASE_TARGET:-target/icount-base}
(cd "$wt" && CARGO_TARGET_DIR="$OLDPWD/$base_target" cargo bench --no-run "${benches[@]}" >/dev/null 2>&1)

bin() { ls -t "$1"/release/deps/"$2"-* | grep -v '\.d$' | head -1; }
cg() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
  sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,; }
cl() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }

measure() { # TARGET_DIR -> lines "what count"
  local ic rt ci
  ic=$(bin "$1" icount) rt=$(bin "$1" routes) ci=$(bin "$1" cache_icount)
  per() { local a b; a=$(cg "$ic" "$1" 2000); b=$(cg "$ic" "$1" 12000); echo $(( (b - a) / 10000 )); }
  rper() { local a b; a=$(ROUTES_ICOUNT=$1:1000:2000 cg "$rt"); b=$(ROUTES_ICOUNT=$1:1000:12000 cg "$rt"); echo $(( (b - a) / 10000 )); }
  local req; req=$(per request_only/GET)
  for c in GET HEAD OPTIONS 405; do
    echo "dispatch/$c/ours $(( $(per route_handlers/$c) - req ))"
    echo "dispatch/$c/axum $(( $(per axum_method_router/$c) - req ))"
  done
  for kind in static dynamic; do
    echo "table-1000/$kind/ours $(( $(rper table-dispatch-$kind) - $(rper table-req-only-$kind) ))"
    echo "table-1000/$kind/axum $(( $(rper axum-dispatch-$kind) - $(rper axum-req-only-$kind) ))"
  done
  for v in setup hit_route hit_route_unlisted hit_layer handler; do
    local a b; a=$(cl "$ci" $v 0); b=$(cl "$ci" $v 20000); echo "cache/$v $(( (b - a) / 20000 ))"
  done
}

measure "$base_target" > "$wt/base.txt"
measure target > "$wt/new.txt"
printf '%-30s %10s %10s %8s\n' "measure" "$(git rev-parse --short "$base")" "$(git rev-parse --short HEAD)+" "change"
paste -d ' ' "$wt/base.txt" "$wt/new.txt" | while read -r what a _ b; do
  printf '%-30s %10d %10d %+7.1f%%\n' "$what" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 100 / a }')"
done
